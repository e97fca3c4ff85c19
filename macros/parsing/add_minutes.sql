{#- A timestamp plus a whole number of minutes (negative: earlier). -#}
{% macro add_minutes(timestamp_expression, minutes_expression) -%}
    {{ return(adapter.dispatch('add_minutes', 'loyalty')(timestamp_expression, minutes_expression)) }}
{%- endmacro %}

{% macro default__add_minutes(timestamp_expression, minutes_expression) -%}
    {{ dbt.dateadd('minute', minutes_expression, timestamp_expression) }}
{%- endmacro %}

{% macro duckdb__add_minutes(timestamp_expression, minutes_expression) -%}
    ({{ timestamp_expression }} + to_minutes(cast({{ minutes_expression }} as bigint)))
{%- endmacro %}

{% macro spark__add_minutes(timestamp_expression, minutes_expression) -%}
    timestampadd(MINUTE, {{ minutes_expression }}, {{ timestamp_expression }})
{%- endmacro %}
