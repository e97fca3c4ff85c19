{#- One row per customer per purchase day. See the purchase_day docs block:
    purchases (amount >= 0, zero included) on the same day count once, amounts summed;
    refunds never make a purchase day. -#}
with

transactions as (

    select * from {{ ref('int_transactions_accepted') }}

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
