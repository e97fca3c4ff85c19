{{ config(enabled=var('subscriptions_path', none) is not none) }}

with

subscribers as (

    select * from {{ ref('stg_clv__subscriber_scores') }}

),

final as (

    select * from subscribers

)

select * from final
