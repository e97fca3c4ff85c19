{#- One row per customer and month with a statement: total month-end assets and products held
    (docs block month_end_balance). -#}
with

assets_monthly as (

    select * from {{ ref('int_customer_assets_monthly') }}

),

final as (

    select
        customer_id,
        total_assets,
        cast(n_products_held as {{ dbt.type_bigint() }}) as n_products_held,
        balance_month

    from assets_monthly

)

select * from final
