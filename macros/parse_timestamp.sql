{#- Parse an ISO-8601 date or timestamp held as text; null when it does not parse.
    A date alone becomes midnight. The one place where text becomes a timestamp, so that
    engines that differ in what they accept (a 'T' separator, a trailing 'Z') agree. -#}
{% macro parse_timestamp(column) -%}
    {{ try_cast("replace(replace(" ~ column ~ ", 'T', ' '), 'Z', '')", dbt.type_timestamp()) }}
{%- endmacro %}
