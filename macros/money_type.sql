{#- The warehouse's money type: decimal currency units with 4 decimals. One place so that
    every engine and every contract agree on the width. -#}
{% macro money_type() -%}
    decimal(18, 4)
{%- endmacro %}
