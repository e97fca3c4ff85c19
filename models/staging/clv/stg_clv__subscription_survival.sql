{{ config(enabled=run_var('subscriptions_path') is not none) }}

with

source as (

    select * from {{ source('clv', 'subscription_survival') }}

),

renamed as (

    select
        cast(cohort_start as date) as cohort_start_date,
        cast(period_number as integer) as period_number,
        cast(n_subscribers as {{ dbt.type_bigint() }}) as n_subscribers,
        cast(n_observable as {{ dbt.type_bigint() }}) as n_observable,
        cast(n_active as {{ dbt.type_bigint() }}) as n_active,
        cast(observed_survival as double) as observed_survival,
        cast(observed_retention as double) as observed_retention,
        cast(projected_survival as double) as projected_survival,
        cast(projected_retention as double) as projected_retention

    from source

)

select * from renamed
