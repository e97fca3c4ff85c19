-- Every valid balance row (int_balances_validated without a reject_reason) is accounted for
-- in fct_customer_balances_monthly: its customer, product and month has a row there. (That
-- every raw balance row is valid or rejected is the source test assert_balance_rows_reconcile.)
-- Returns a row on failure.
with

validated as (

    select * from {{ ref('int_balances_validated') }}

),

monthly as (

    select * from {{ ref('fct_customer_balances_monthly') }}

),

valid_without_month as (

    select count(*) as n_rows
    from validated
    left join monthly
        on
            validated.customer_id = monthly.customer_id
            and validated.product = monthly.product
            and cast({{ dbt.date_trunc('month', 'validated.balance_date') }} as date) = monthly.balance_month
    where validated.reject_reason is null and monthly.customer_id is null

),

final as (

    select valid_without_month.n_rows as valid_without_month
    from valid_without_month

)

select * from final
where valid_without_month > 0
