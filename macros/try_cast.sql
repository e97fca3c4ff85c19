{#- Cast that yields null instead of failing on a value that does not convert.
    dbt-duckdb's dbt.safe_cast is a plain cast (a bad value fails the whole model), so
    DuckDB and Spark (which both have try_cast) use try_cast; other engines fall back to
    dbt.safe_cast. -#}
{% macro try_cast(expression, data_type) -%}
    {%- if target.type in ('duckdb', 'spark', 'databricks') -%}
        try_cast({{ expression }} as {{ data_type }})
    {%- else -%}
        {{ dbt.safe_cast(expression, data_type) }}
    {%- endif -%}
{%- endmacro %}
