{#- One row per customer, product and month with a valid balance: the month-end balance is
    the balance of the latest statement in the month (docs block month_end_balance). -#}
with

balances as (

    select * from {{ ref('int_balances_validated') }}

),

valid_balances as (

    select
        customer_id,
        product,
        balance,
        balance_date,
        cast({{ dbt.date_trunc('month', 'balance_date') }} as date) as balance_month,
        row_number() over (
            partition by customer_id, product, cast({{ dbt.date_trunc('month', 'balance_date') }} as date)
            order by balance_date desc
        ) as statement_rank

    from balances
    where reject_reason is null

),

final as (

    select
        customer_id,
        product,
        balance as month_end_balance,
        balance_month,
        balance_date as statement_date

    from valid_balances
    where statement_rank = 1

)

select * from final
