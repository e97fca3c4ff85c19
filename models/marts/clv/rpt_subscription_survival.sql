{{ config(enabled=run_var('subscriptions_path') is not none) }}

with

survival as (

    select * from {{ ref('stg_clv__subscription_survival') }}

),

final as (

    select * from survival

)

select * from final
