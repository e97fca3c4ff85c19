{#- The valid transactions (int_transactions_accepted), published with a contract.
    Incremental (README "Incremental daily runs"): a run replaces, by transaction_id, the
    transactions of the rows that int_transactions_validated (re)classified in its latest run
    (macro latest_classification_run); the post-hook deletes those of them that no longer
    have a valid row (e.g. dated after an earlier as-of date). -#}
-- depends_on: {{ ref('int_transactions_validated') }}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='transaction_id',
    on_schema_change='fail',
    post_hook="{{ delete_transactions_no_longer_valid(ref('int_transactions_validated')) }}",
) }}
with

transactions as (

    select * from {{ ref('int_transactions_accepted') }}
    {%- if is_incremental() %}
        where transaction_id in (
            select validated.transaction_id
            from {{ ref('int_transactions_validated') }} as validated
            where {{ latest_classification_run(ref('int_transactions_validated'), 'validated.') }}
        )
    {%- endif %}

),

final as (

    select
        transaction_id,
        customer_id,
        store_id,
        currency,
        product_category,
        channel,
        amount,
        quantity,
        is_refund,
        transaction_date,
        transacted_at

    from transactions

)

select * from final
