{#- persist_docs on DuckDB: the model's description and a COMMENT ON COLUMN for every
    documented column, in one query. dbt's default persist_docs and dbt-duckdb's
    alter_column_comment each read the built relation's columns first (two DESCRIBE queries and
    agate tables per model: ~9% of dbt's worker-thread samples in a py-spy profile of a
    1,000-row run; the run's wall time moved within its noise) to skip documented
    columns the model does not produce, with a warning. Here such a column fails the model's
    build instead: a description of a column that does not exist is a documentation error, and
    CI's fixture build (every model, persist_docs on) finds it. -#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
  {%- set statements = [] -%}
  {%- if for_relation and config.persist_relation_docs() and model.description -%}
    {%- do statements.append(alter_relation_comment(relation, model.description)) -%}
  {%- endif -%}
  {%- if for_columns and config.persist_column_docs() and model.columns -%}
    {%- do statements.append(duckdb__alter_column_comment(relation, model.columns)) -%}
  {%- endif -%}
  {%- if statements -%}
    {%- do run_query(statements | join('\n')) -%}
  {%- endif -%}
{%- endmacro %}
