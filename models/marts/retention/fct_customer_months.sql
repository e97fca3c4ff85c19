{#- One row per customer per calendar month, from the cohort month to the as-of month, with
    the active rule applied at the start and the end of the month (docs blocks
    active_customer and customer_month_status). The grid carries the latest purchase day up
    to each month end forward, so the rule needs only the monthly purchase days. -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

transactions as (

    select * from {{ ref('fct_transactions') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),

customer_month_grid as (

    select
        customers.customer_id,
        customers.cohort_month,
        months.activity_month,
        months.month_end_date

    from customers
    inner join months
        on customers.cohort_month <= months.activity_month

),

monthly_purchases as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'purchase_date') }} as date) as activity_month,
        sum(n_purchases) as n_purchases,
        count(*) as n_purchase_days,
        max(purchase_date) as last_purchase_date_in_month

    from purchase_days
    group by
        customer_id,
        cast({{ dbt.date_trunc('month', 'purchase_date') }} as date)

),

monthly_revenue as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'transaction_date') }} as date) as activity_month,
        sum(amount) as revenue

    from transactions
    group by
        customer_id,
        cast({{ dbt.date_trunc('month', 'transaction_date') }} as date)

),

joined as (

    select
        customer_month_grid.customer_id,
        customer_month_grid.cohort_month,
        customer_month_grid.activity_month,
        customer_month_grid.month_end_date,
        coalesce(monthly_purchases.n_purchases, 0) as n_purchases,
        coalesce(monthly_purchases.n_purchase_days, 0) as n_purchase_days,
        coalesce(monthly_revenue.revenue, 0) as revenue,
        max(monthly_purchases.last_purchase_date_in_month) over (
            partition by customer_month_grid.customer_id
            order by customer_month_grid.activity_month
            rows between unbounded preceding and current row
        ) as last_purchase_date,
        -- the same up to the previous month (one sort serves both windows)
        max(monthly_purchases.last_purchase_date_in_month) over (
            partition by customer_month_grid.customer_id
            order by customer_month_grid.activity_month
            rows between unbounded preceding and 1 preceding
        ) as last_purchase_date_before_month

    from customer_month_grid
    left join monthly_purchases
        on
            customer_month_grid.customer_id = monthly_purchases.customer_id
            and customer_month_grid.activity_month = monthly_purchases.activity_month
    left join monthly_revenue
        on
            customer_month_grid.customer_id = monthly_revenue.customer_id
            and customer_month_grid.activity_month = monthly_revenue.activity_month

),

active_at_month_start_and_end as (

    -- the start of a month is the last day of the previous one; nobody is active before
    -- their cohort month
    select
        *,
        coalesce(
            {{ is_active_on(
                'last_purchase_date_before_month',
                dbt.dateadd('day', -1, 'activity_month')) }},
            false
        ) as is_active_at_month_start,
        {{ is_active_on('last_purchase_date', 'month_end_date') }} as is_active_in_month

    from joined

),

final as (

    select
        customer_id,
        case
            when activity_month = cohort_month then 'new'
            when is_active_at_month_start and is_active_in_month then 'returning'
            when is_active_at_month_start then 'churned'
            when is_active_in_month then 'reactivated'
            else 'inactive'
        end as lifecycle_status,
        cast(
            {{ dbt.datediff('cohort_month', 'activity_month', 'month') }}
            as {{ dbt.type_int() }}
        ) as months_since_first_purchase,
        cast(n_purchases as {{ dbt.type_bigint() }}) as n_purchases,
        cast(n_purchase_days as {{ dbt.type_bigint() }}) as n_purchase_days,
        {{ money('revenue') }} as revenue,
        is_active_at_month_start,
        is_active_in_month,
        activity_month,
        cohort_month,
        month_end_date,
        last_purchase_date

    from active_at_month_start_and_end

)

select * from final
