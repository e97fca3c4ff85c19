{{ config(enabled=var('subscriptions_path', none) is not none) }}

with

rejected as (

    select * from {{ ref('stg_clv__rejected_subscriptions') }}

),

final as (

    select * from rejected

)

select * from final
