-- The monthly flows of rpt_retention_rate_monthly add up (docs block retention_rate_monthly):
-- start = retained + churned and end = retained + new + reactivated in every month, each
-- month starts with the customers the previous month ended with, the months run without a
-- gap, and the three rates agree. Returns one row per broken check. (It refs only the
-- report, so that it runs in the build phase that builds the report; that the last month
-- is the as-of month is checked in assert_retention_reconciles_to_customers.)
with

monthly as (

    select * from {{ ref('rpt_retention_rate_monthly') }}

),

with_previous as (

    select
        *,
        lag(customers_end) over (order by activity_month) as previous_customers_end,
        lag(activity_month) over (order by activity_month) as previous_month

    from monthly

),

month_checks as (

    select
        activity_month,
        case
            when customers_start != retained_customers + churned_customers
                then 'start != retained + churned'
            when customers_end != retained_customers + new_customers + reactivated_customers
                then 'end != retained + new + reactivated'
            when previous_month is null and customers_start != 0
                then 'the first month starts with customers'
            when previous_month is not null and customers_start != previous_customers_end
                then 'start != end of the previous month'
            when
                previous_month is not null
                and activity_month != cast({{ dbt.dateadd('month', 1, 'previous_month') }} as date)
                then 'a month is missing'
            when abs(coalesce(retention_rate + churn_rate, 1) - 1) > 1e-9
                then 'retention_rate + churn_rate != 1'
            when abs(coalesce(retention_rate_classic - retention_rate, 0)) > 1e-9
                then 'retention_rate_classic != retention_rate'
        end as failure

    from with_previous

),

final as (

    select * from month_checks

)

select * from final
where failure is not null
