{#- Detractors worth a call (docs block high_value_detractor): customers whose latest NPS
    response is a detractor, given within detractor_alert_days days of the as-of date, and
    who are high value by purchases (value_tier high_value) or by assets (asset_tier
    high_net_worth). -#}
with

latest_surveys as (

    select * from {{ ref('int_customers_latest_survey') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

asset_tiers as (

    select * from {{ ref('int_customers_asset_tiered') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

candidates as (

    select
        latest_surveys.customer_id,
        customers.value_tier,
        asset_tiers.asset_tier,
        latest_surveys.latest_nps_score,
        customers.total_revenue,
        customers.predicted_clv_365d,
        asset_tiers.total_assets,
        latest_surveys.latest_nps_date,
        as_of.as_of_date

    from latest_surveys
    cross join as_of
    left join customers
        on latest_surveys.customer_id = customers.customer_id
    left join asset_tiers
        on latest_surveys.customer_id = asset_tiers.customer_id
    where
        latest_surveys.latest_nps_class = 'detractor'
        and {{ dbt.datediff('latest_surveys.latest_nps_date', 'as_of.as_of_date', 'day') }}
        < {{ checked_var('detractor_alert_days', 1) }}

),

final as (

    select
        customer_id,
        value_tier,
        asset_tier,
        cast(latest_nps_score as {{ dbt.type_int() }}) as latest_nps_score,
        total_revenue,
        predicted_clv_365d,
        total_assets,
        latest_nps_date,
        as_of_date

    from candidates
    where value_tier = 'high_value' or asset_tier = 'high_net_worth'

)

select * from final
