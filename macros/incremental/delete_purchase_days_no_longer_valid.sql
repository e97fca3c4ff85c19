{#- Post-hook of int_customer_purchase_days on an incremental build: delete the purchase days
    of the customers of the rows that the latest run of int_transactions_validated
    (re)classified and who have no purchase any more (delete+insert replaces only the
    customers it inserts). Nothing on a full build. -#}
{% macro delete_purchase_days_no_longer_valid(validated_relation, accepted_relation) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where customer_id in (
            select validated.customer_id
            from {{ validated_relation }} as validated
            where {{ latest_classification_run(validated_relation, 'validated.') }}
        )
        and customer_id not in (
            select accepted.customer_id
            from {{ accepted_relation }} as accepted
            where
                not accepted.is_refund
                and accepted.customer_id in (
                    select validated.customer_id
                    from {{ validated_relation }} as validated
                    where {{ latest_classification_run(validated_relation, 'validated.') }}
                )
        )
    {%- endif -%}
{%- endmacro %}
