{#- One row per 12-month window and customer with assets at its start (docs block
    big_customer_balance_decline): windows end in the latest balance month of the warehouse
    and every 12 months before it, as long as the window starts in or after the first
    balance month. Big = the top big_customer_share of these customers by assets at the
    start; a sharp decline = assets at the end at most (100 - balance_decline_threshold_pct)%
    of those at the start. -#}
with

assets_monthly as (

    select * from {{ ref('int_customer_assets_monthly') }}

),

month_range as (

    select
        min(balance_month) as first_balance_month,
        max(balance_month) as current_balance_month

    from assets_monthly

),

year_offsets as (

    -- 0 .. 99: up to 100 yearly windows
    select generated_number - 1 as year_offset
    from ({{ dbt.generate_series(100) }}) as series

),

windows as (

    select
        cast(
            {{ dbt.dateadd('month', '-12 * year_offsets.year_offset', 'month_range.current_balance_month') }}
            as date
        ) as window_end_month,
        cast(
            {{ dbt.dateadd('month', '-12 * year_offsets.year_offset - 12', 'month_range.current_balance_month') }}
            as date
        ) as window_start_month,
        month_range.first_balance_month

    from year_offsets
    cross join month_range

),

starts as (

    select
        windows.window_end_month,
        windows.window_start_month,
        assets_monthly.customer_id,
        assets_monthly.total_assets as assets_start,
        assets_monthly.n_products_held as n_products_start

    from windows
    inner join assets_monthly
        on windows.window_start_month = assets_monthly.balance_month
    where
        windows.window_start_month >= windows.first_balance_month
        and assets_monthly.total_assets > 0

),

ranked as (

    select
        starts.*,
        coalesce(ends.total_assets, 0) as assets_end,
        row_number() over (
            partition by starts.window_end_month
            order by starts.assets_start desc, starts.customer_id asc
        ) as asset_rank,
        count(*) over (partition by starts.window_end_month) as n_customers_start

    from starts
    left join assets_monthly as ends
        on
            starts.customer_id = ends.customer_id
            and starts.window_end_month = ends.balance_month

),

final as (

    select
        customer_id,
        {{ money('assets_start') }} as assets_start,
        {{ money('assets_end') }} as assets_end,
        cast(100.0 * (assets_end - assets_start) / assets_start as double) as assets_change_pct,
        cast(n_products_start as {{ dbt.type_bigint() }}) as n_products_start,
        cast(asset_rank as {{ dbt.type_bigint() }}) as asset_rank,
        cast(n_customers_start as {{ dbt.type_bigint() }}) as n_customers_start,
        asset_rank - 1 < {{ checked_var('big_customer_share', 0, 1) }} * n_customers_start as is_big_customer,
        assets_end
        <= assets_start * (1 - {{ checked_var('balance_decline_threshold_pct', 0, 100) }} / 100.0)
            as has_sharp_decline,
        assets_end <= 0 as is_churned_end,
        window_start_month,
        window_end_month

    from ranked

)

select * from final
