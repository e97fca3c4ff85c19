{{ config(enabled=run_var('subscriptions_path') is not none) }}

with

rejected as (

    select * from {{ ref('stg_clv__rejected_subscriptions') }}

),

final as (

    select * from rejected

)

select * from final
