{#- Fails for every row where `<column> <expression>` is false (dbt_utils' expression_is_true,
    which cannot be installed here). Used as a column test: expression ">= 0". -#}
{% test expression_is_true(model, column_name, expression) %}

select *
from {{ model }}
where not ({{ column_name }} {{ expression }})

{% endtest %}
