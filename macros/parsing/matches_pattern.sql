{#- True when the whole text matches the regular expression (anchor it with ^ and $).
    Patterns are written in the subset that RE2 (DuckDB) and Java (Spark) read the same
    way: character classes such as [0-9] and [.], no backslashes (Spark string literals
    would eat them). Null text gives null. -#}
{% macro matches_pattern(expression, pattern) -%}
    {{ return(adapter.dispatch('matches_pattern', 'loyalty')(expression, pattern)) }}
{%- endmacro %}

{% macro default__matches_pattern(expression, pattern) -%}
    regexp_like({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__matches_pattern(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__matches_pattern(expression, pattern) -%}
    ({{ expression }} rlike '{{ pattern }}')
{%- endmacro %}
