-- Nothing is lost: every raw balance row is either valid (int_balances_validated without a
-- reject_reason, the input of the balance marts) or in rejected_balances, and every valid row
-- is accounted for in fct_customer_balances_monthly: its customer, product and month has a row
-- there. Returns a row on failure.
with

raw_rows as (

    select count(*) as n_rows from {{ source('raw', 'balances') }}

),

validated as (

    select * from {{ ref('int_balances_validated') }}

),

valid_rows as (

    select count(*) as n_rows from validated
    where reject_reason is null

),

rejected_rows as (

    select count(*) as n_rows from {{ ref('rejected_balances') }}

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

    select
        raw_rows.n_rows as raw_rows,
        valid_rows.n_rows as valid_rows,
        rejected_rows.n_rows as rejected_rows,
        valid_without_month.n_rows as valid_without_month

    from raw_rows
    cross join valid_rows
    cross join rejected_rows
    cross join valid_without_month

)

select * from final
where raw_rows != valid_rows + rejected_rows or valid_without_month > 0
