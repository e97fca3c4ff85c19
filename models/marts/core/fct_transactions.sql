with

validated as (

    select * from {{ ref('int_transactions_validated') }}

),

final as (

    select
        transaction_id,
        customer_id,
        store_id,
        currency,
        product_category,
        channel,
        {{ money('amount') }} as amount,
        quantity,
        amount < 0 as is_refund,
        transaction_date,
        transacted_at

    from validated
    where reject_reason is null

)

select * from final
