{#- The valid transactions (int_transactions_accepted), published with a contract. -#}
with

transactions as (

    select * from {{ ref('int_transactions_accepted') }}

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
