{#- One row per customer, product and month with a statement: the month-end balance (docs
    block month_end_balance). -#}
with

product_balances as (

    select * from {{ ref('int_customer_product_balances_monthly') }}

),

final as (

    select
        customer_id,
        product,
        month_end_balance,
        balance_month,
        statement_date

    from product_balances

)

select * from final
