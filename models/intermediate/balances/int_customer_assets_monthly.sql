{#- One row per customer and month with a statement: total month-end assets over the
    products and the number of products held (month-end balance above 0). Docs block
    month_end_balance. -#}
with

product_balances as (

    select * from {{ ref('int_customer_product_balances_monthly') }}

),

final as (

    select
        customer_id,
        {{ money('sum(month_end_balance)') }} as total_assets,
        count(case when month_end_balance > 0 then 1 end) as n_products_held,
        balance_month

    from product_balances
    group by
        customer_id,
        balance_month

)

select * from final
