{#- Cast an expression to the warehouse's money type (see money_type). -#}
{% macro money(expression) -%}
    cast({{ expression }} as {{ money_type() }})
{%- endmacro %}
