{#- A UTC wall-clock timestamp (without zone) as the wall-clock time of the named IANA zone. -#}
{% macro utc_to_zone(timestamp_expression, zone) -%}
    {{ return(adapter.dispatch('utc_to_zone', 'loyalty')(timestamp_expression, zone)) }}
{%- endmacro %}

{% macro default__utc_to_zone(timestamp_expression, zone) -%}
    cast({{ timestamp_expression }} at time zone 'UTC' at time zone '{{ zone }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__utc_to_zone(timestamp_expression, zone) -%}
    timezone('{{ zone }}', timezone('UTC', {{ timestamp_expression }}))
{%- endmacro %}

{% macro spark__utc_to_zone(timestamp_expression, zone) -%}
    from_utc_timestamp({{ timestamp_expression }}, '{{ zone }}')
{%- endmacro %}
