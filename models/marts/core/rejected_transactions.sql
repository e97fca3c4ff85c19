with

validated as (

    select * from {{ ref('int_transactions_validated') }}

),

final as (

    select
        raw_row_id,
        source_file,
        source_row_number,
        transaction_id,
        customer_id,
        store_id,
        currency,
        product_category,
        channel,
        reject_reason,
        transacted_at_raw as transacted_at,
        amount_raw as amount,
        quantity_raw as quantity,
        raw_line

    from validated
    where reject_reason is not null

)

select * from final
