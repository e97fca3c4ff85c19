{{ config(enabled=run_var('subscriptions_path') is not none) }}

with

subscribers as (

    select * from {{ ref('stg_clv__subscriber_scores') }}

),

final as (

    select * from subscribers

)

select * from final
