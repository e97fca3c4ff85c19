{{ config(enabled=run_var('subscriptions_path') is not none) }}

with

source as (

    select * from {{ source('clv', 'rejected_subscriptions') }}

),

renamed as (

    select
        source_file,
        cast(row_number as {{ dbt.type_bigint() }}) as row_number,
        customer_id,
        started_at as started_at_text,
        ended_at as ended_at_text,
        plan,
        rejection_reason

    from source

)

select * from renamed
