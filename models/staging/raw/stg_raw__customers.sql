{#- Personal data (email, full_name) is deliberately not selected: it never leaves the raw layer. -#}
with

source as (

    select * from {{ source('raw', 'customers') }}

),

renamed as (

    select
        raw_row_id,
        customer_id,
        upper(country) as country,
        lower(acquisition_channel) as acquisition_channel,
        cast({{ parse_timestamp('signup_at') }} as date) as signup_date,
        row_number() over (partition by customer_id order by raw_row_id) as customer_row_rank

    from source
    where customer_id is not null

),

deduplicated as (

    select
        customer_id,
        country,
        acquisition_channel,
        signup_date

    from renamed
    where customer_row_rank = 1

)

select * from deduplicated
