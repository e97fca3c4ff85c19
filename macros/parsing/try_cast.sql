{#- Cast that yields null instead of failing on a value that does not convert.
    dbt-duckdb's dbt.safe_cast is a plain cast (a bad value fails the whole model), so
    DuckDB and Spark (which both have try_cast) use try_cast; other engines fall back to
    dbt.safe_cast. Only ever applied to text that already matched a strict pattern
    (parse_timestamp, parse_decimal, parse_integer): try_cast alone is lenient (it reads
    'epoch', 'infinity', '1_000' and ' 12 '). -#}
{% macro try_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('try_cast', 'loyalty')(expression, data_type)) }}
{%- endmacro %}

{% macro default__try_cast(expression, data_type) -%}
    {{ dbt.safe_cast(expression, data_type) }}
{%- endmacro %}

{% macro duckdb__try_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{% macro spark__try_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}
