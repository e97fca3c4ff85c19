{#- The two timestamp operations whose spelling differs per engine, used by parse_timestamp. -#}

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
