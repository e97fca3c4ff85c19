with

source as (

    select * from {{ source('raw', 'balances') }}

),

renamed as (

    select
        raw_row_id,
        source_file,
        source_row_number,
        customer_id,
        lower(product) as product,
        balance_date as balance_date_raw,
        balance as balance_raw,
        {{ try_cast('balance', money_type()) }} as balance,
        cast({{ parse_timestamp('balance_date') }} as date) as balance_date

    from source

)

select * from renamed
