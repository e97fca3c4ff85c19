with

validated as (

    select * from {{ ref('int_balances_validated') }}

),

final as (

    select
        raw_row_id,
        source_file,
        source_row_number,
        customer_id,
        product_raw as product,
        reject_reason,
        balance_date_raw as balance_date,
        balance_raw as balance

    from validated
    where reject_reason is not null

)

select * from final
