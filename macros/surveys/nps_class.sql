{#- The NPS class of a 0-10 score (docs block nps_definition): promoter 9-10, passive 7-8,
    detractor 0-6; null when there is no score. -#}
{% macro nps_class(score) -%}
    case
        when {{ score }} >= 9 then 'promoter'
        when {{ score }} >= 7 then 'passive'
        when {{ score }} >= 0 then 'detractor'
    end
{%- endmacro %}
