{#- dbt-duckdb's alter_column_comment without its DESCRIBE of the relation: every documented
    column gets its comment (see duckdb__persist_docs). -#}
{% macro duckdb__alter_column_comment(relation, column_dict) %}
  {% for column_name in column_dict %}
    {% set escaped_comment = duckdb_escape_comment(column_dict[column_name]['description']) %}
    comment on column {{ relation }}.{{ adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name }} is {{ escaped_comment }};
  {% endfor %}
{% endmacro %}
