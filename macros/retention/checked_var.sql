{#- A numeric dbt var, checked: compilation stops with one sentence when the value is not a
    number or lies outside [minimum, maximum]. Used for the retention and segment vars, so
    that a typo in --vars fails the run instead of silently changing a definition. -#}
{% macro checked_var(name, minimum, maximum=none) -%}
    {%- set value = run_var(name) -%}
    {%- if value is boolean or value is not number
        or value < minimum or (maximum is not none and value > maximum) -%}
        {%- set upper = '' if maximum is none else ' and at most ' ~ maximum -%}
        {{- exceptions.raise_compiler_error(
            "dbt var error: " ~ name ~ " must be a number of at least " ~ minimum ~ upper
            ~ ", got " ~ (value | string) ~ ".") -}}
    {%- endif -%}
    {{- value -}}
{%- endmacro %}
