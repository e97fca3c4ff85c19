{#- A subquery: the customer_ids of the rows that the latest run of int_transactions_validated
    (`validated_relation`) (re)classified (macro latest_classification_run), the customers
    whose rows the per-customer incremental models and fct_customer_months rebuild. -#}
{% macro customers_of_latest_classification(validated_relation) -%}
    select validated.customer_id
    from {{ validated_relation }} as validated
    where {{ latest_classification_run(validated_relation, 'validated.') }}
{%- endmacro %}
