{#- One row per customer per purchase day. See the purchase_day docs block:
    purchases (amount >= 0, zero included) on the same day count once, amounts summed;
    refunds never make a purchase day.
    Incremental (README "Incremental daily runs"): a run rebuilds every purchase day of the
    customers of the rows that int_transactions_validated (re)classified in its latest run
    (macro latest_classification_run), replaced by customer_id; the post-hook deletes the
    days of those customers who no longer have a purchase. Purchase days do not depend on the
    as-of date, so nobody else's rows change. -#}
-- depends_on: {{ ref('int_transactions_validated') }}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='customer_id',
    on_schema_change='fail',
    post_hook="{{ delete_customers_without_purchase(ref('int_transactions_validated'), ref('int_transactions_accepted')) }}",
) }}
with

transactions as (

    select * from {{ ref('int_transactions_accepted') }}
    {%- if is_incremental() %}
        where customer_id in ({{ customers_of_latest_classification(ref('int_transactions_validated')) }})
    {%- endif %}

),

purchases as (

    select * from transactions
    where not is_refund

),

final as (

    select
        customer_id,
        count(*) as n_purchases,
        {{ money('sum(amount)') }} as purchase_amount,
        transaction_date as purchase_date

    from purchases
    group by customer_id, transaction_date

)

select * from final
