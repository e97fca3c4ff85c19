{#- The materialization of the models built incrementally from the raw layer: `incremental`
    where dbt can delete and insert rows by key (DuckDB: strategy delete+insert), `table` on
    engines whose plain tables cannot (Spark parquet tables have neither merge nor
    delete+insert), which then rebuild those models in full on every run. -#}
{% macro incremental_materialization() -%}
    {%- if target.type == 'duckdb' -%}
        incremental
    {%- else -%}
        table
    {%- endif -%}
{%- endmacro %}
