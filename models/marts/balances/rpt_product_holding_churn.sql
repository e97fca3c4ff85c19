{#- Churn by cross-holding (docs block product_holding_churn): customers with assets 12
    months before the latest balance month, by the number of products they held then, and
    the share of them holding nothing at the latest balance month. Every group has a row. -#}
with

balance_windows as (

    select * from {{ ref('int_big_customer_balance_windows') }}

),

holding_groups as (

    select
        1 as min_products,
        '1' as products_held
    union all
    select
        2 as min_products,
        '2' as products_held
    union all
    select
        3 as min_products,
        '3' as products_held
    union all
    select
        4 as min_products,
        '4+' as products_held

),

latest_month as (

    select max(window_end_month) as window_end_month
    from balance_windows

),

latest_window as (

    select
        balance_windows.customer_id,
        balance_windows.assets_start,
        balance_windows.is_churned_end,
        balance_windows.window_start_month,
        balance_windows.window_end_month,
        case when balance_windows.n_products_start >= 4 then 4 else balance_windows.n_products_start end
            as min_products

    from balance_windows
    inner join latest_month
        on balance_windows.window_end_month = latest_month.window_end_month

),

aggregated as (

    select
        holding_groups.products_held,
        holding_groups.min_products,
        count(latest_window.customer_id) as customers,
        count(case when latest_window.is_churned_end then 1 end) as churned_customers,
        avg(latest_window.assets_start) as avg_assets_start,
        max(latest_window.window_start_month) as window_start_month,
        max(latest_window.window_end_month) as window_end_month

    from holding_groups
    left join latest_window
        on holding_groups.min_products = latest_window.min_products
    group by
        holding_groups.products_held,
        holding_groups.min_products

),

final as (

    select
        products_held,
        cast(min_products as {{ dbt.type_int() }}) as min_products,
        customers,
        churned_customers,
        cast(churned_customers as double) / nullif(customers, 0) as churn_rate,
        {{ money('avg_assets_start') }} as avg_assets_start,
        window_start_month,
        window_end_month

    from aggregated

)

select * from final
