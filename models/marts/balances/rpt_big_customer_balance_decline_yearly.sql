{#- Per 12-month window, the share of big customers whose assets fell sharply, beside the
    figure the banking literature quotes (docs block big_customer_balance_decline). -#}
with

balance_windows as (

    select * from {{ ref('int_big_customer_balance_windows') }}

),

aggregated as (

    select
        window_end_month,
        window_start_month,
        max(n_customers_start) as customers_with_assets,
        count(case when is_big_customer then 1 end) as big_customers,
        count(case when is_big_customer and has_sharp_decline then 1 end) as big_customers_with_decline

    from balance_windows
    group by
        window_end_month,
        window_start_month

),

shares as (

    select
        *,
        cast(0.315 as double) as literature_decline_share,
        cast(big_customers_with_decline as double) / nullif(big_customers, 0) as decline_share

    from aggregated

),

final as (

    select
        customers_with_assets,
        big_customers,
        big_customers_with_decline,
        decline_share,
        literature_decline_share,
        window_start_month,
        window_end_month

    from shares

)

select * from final
