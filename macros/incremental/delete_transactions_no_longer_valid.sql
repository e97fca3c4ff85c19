{#- Post-hook of fct_transactions on an incremental build: delete the transactions that the
    latest run of int_transactions_validated (re)classified and that have no valid row any
    more (delete+insert replaces only the transaction_ids it inserts). Nothing on a full
    build. -#}
{% macro delete_transactions_no_longer_valid(validated_relation) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where transaction_id in (
            select validated.transaction_id
            from {{ validated_relation }} as validated
            where {{ latest_classification_run(validated_relation, 'validated.') }}
        )
        and transaction_id not in (
            select validated.transaction_id
            from {{ validated_relation }} as validated
            where
                {{ latest_classification_run(validated_relation, 'validated.') }}
                and validated.reject_reason is null
        )
    {%- endif -%}
{%- endmacro %}
