{{ config(enabled=run_var('subscriptions_path') is not none) }}

with

source as (

    select * from {{ source('clv', 'subscriber_scores') }}

),

renamed as (

    select
        customer_id,
        plan,
        cast(completed_periods as integer) as completed_periods,
        cast(expected_remaining_periods as double) as expected_remaining_periods,
        cast(median_remaining_periods as integer) as median_remaining_periods,
        cast(derl as double) as discounted_expected_residual_lifetime,
        cast(started_at as date) as started_date

    from source

)

select * from renamed
