{#- One row per customer with a valid balance: assets in the latest balance month of the
    warehouse and the asset tier (docs block asset_tier); a customer without a statement that
    month holds nothing then. -#}
with

assets_monthly as (

    select * from {{ ref('int_customer_assets_monthly') }}

),

latest_month as (

    select max(balance_month) as current_balance_month
    from assets_monthly

),

customers as (

    select distinct customer_id
    from assets_monthly

),

current_assets as (

    select
        customers.customer_id,
        latest_month.current_balance_month,
        coalesce(assets_monthly.total_assets, 0) as total_assets,
        coalesce(assets_monthly.n_products_held, 0) as n_products_held

    from customers
    cross join latest_month
    left join assets_monthly
        on
            customers.customer_id = assets_monthly.customer_id
            and latest_month.current_balance_month = assets_monthly.balance_month

),

final as (

    select
        customer_id,
        case
            when total_assets <= 0 then 'no_assets'
            when total_assets >= {{ checked_var('asset_tier_high_net_worth_min', 0) }} then 'high_net_worth'
            when total_assets >= {{ checked_var('asset_tier_regular_min', 0) }} then 'regular'
            else 'potential'
        end as asset_tier,
        {{ money('total_assets') }} as total_assets,
        cast(n_products_held as {{ dbt.type_bigint() }}) as n_products_held,
        current_balance_month

    from current_assets

)

select * from final
