{#- The value of the dbt var `name` for this run. `loyalty run` passes each var it sets as an
    environment variable, LOYALTY_VAR_<NAME> (JSON: 20, 0.5, "month", null), rather than with
    --vars: dbt parses the whole project again whenever --vars differ from its saved parse
    (~10 s), but when an environment variable changes it re-reads only the files that read it.
    A var set there wins; otherwise this is var(name): --vars when dbt is run by hand, else
    dbt_project.yml. -#}
{% macro run_var(name) -%}
    {%- set passed = env_var('LOYALTY_VAR_' ~ (name | upper), '') -%}
    {%- if passed != '' -%}
        {{- return(fromjson(passed)) -}}
    {%- endif -%}
    {{- return(var(name)) -}}
{%- endmacro %}
