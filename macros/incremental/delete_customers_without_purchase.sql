{#- Post-hook of the per-customer incremental models (int_customer_purchase_days,
    int_customer_totals: delete+insert on customer_id) on an incremental build: delete the rows
    of the customers of the rows that the latest run of int_transactions_validated
    (re)classified and who have no purchase any more (delete+insert replaces only the
    customers it inserts). Nothing on a full build. -#}
{% macro delete_customers_without_purchase(validated_relation, accepted_relation) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where customer_id in ({{ customers_of_latest_classification(validated_relation) }})
        and customer_id not in (
            select accepted.customer_id
            from {{ accepted_relation }} as accepted
            where not accepted.is_refund
        )
    {%- endif -%}
{%- endmacro %}
