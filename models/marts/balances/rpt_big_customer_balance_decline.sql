{#- The big customers whose assets fell sharply over the last 12 months, up to the latest
    balance month (docs block big_customer_balance_decline). -#}
with

balance_windows as (

    select * from {{ ref('int_big_customer_balance_windows') }}

),

latest_window as (

    select max(window_end_month) as window_end_month
    from balance_windows

),

final as (

    select
        balance_windows.customer_id,
        balance_windows.assets_start,
        balance_windows.assets_end,
        balance_windows.assets_change_pct,
        balance_windows.asset_rank,
        balance_windows.window_start_month,
        balance_windows.window_end_month

    from balance_windows
    inner join latest_window
        on balance_windows.window_end_month = latest_window.window_end_month
    where
        balance_windows.is_big_customer
        and balance_windows.has_sharp_decline

)

select * from final
