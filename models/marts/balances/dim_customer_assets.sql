{#- One row per customer with a valid balance: assets and products held in the latest balance
    month of the warehouse and the asset tier (docs block asset_tier). -#}
with

asset_tiers as (

    select * from {{ ref('int_customers_asset_tiered') }}

),

final as (

    select
        customer_id,
        asset_tier,
        total_assets,
        n_products_held,
        current_balance_month

    from asset_tiers

)

select * from final
