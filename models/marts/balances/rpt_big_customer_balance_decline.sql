{#- The big customers whose assets fell sharply over the last 12 months, up to the latest
    balance month (docs block big_customer_balance_decline). -#}
with

balance_windows as (

    select * from {{ ref('int_big_customer_balance_windows') }}

),

final as (

    select
        customer_id,
        assets_start,
        assets_end,
        assets_change_pct,
        asset_rank,
        window_start_month,
        window_end_month

    from balance_windows
    where
        window_end_month = (select max(window_end_month) from balance_windows)
        and is_big_customer
        and has_sharp_decline

)

select * from final
