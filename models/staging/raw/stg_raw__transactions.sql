with

source as (

    select * from {{ source('raw', 'transactions') }}

),

renamed as (

    select
        raw_row_id,
        source_file,
        source_row_number,
        transaction_id,
        customer_id,
        transacted_at as transacted_at_raw,
        amount as amount_raw,
        upper(currency) as currency,
        lower(product_category) as product_category,
        lower(channel) as channel,
        store_id,
        quantity as quantity_raw,
        raw_line,
        loaded_at,
        {{ parse_timestamp('transacted_at') }} as transacted_at,
        {{ parse_decimal('amount', money_type()) }} as amount,
        {{ parse_integer('quantity') }} as quantity

    from source

)

select * from renamed
