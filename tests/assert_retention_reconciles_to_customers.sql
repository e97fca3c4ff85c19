-- The monthly customer flows agree with the customers (docs block active_customer): the
-- last month of rpt_retention_rate_monthly is the as-of month and ends (on the as-of date)
-- with the customers dim_customers does not flag as churned, every
-- customer is new exactly once, fct_customer_months has one row per customer per month
-- from the cohort month to the as-of month, and the churned lifecycle stage and the lapsed
-- value tier are exactly the churned customers. Returns one row per broken check.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

customer_months as (

    select * from {{ ref('fct_customer_months') }}

),

monthly as (

    select * from {{ ref('rpt_retention_rate_monthly') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

customer_counts as (

    select
        count(*) as n_customers,
        count(case when not is_churned then 1 end) as n_active,
        count(case when is_churned then 1 end) as n_churned,
        count(case when lifecycle_stage = 'churned' then 1 end) as n_stage_churned,
        count(case when value_tier = 'lapsed' then 1 end) as n_tier_lapsed,
        sum(
            {{ dbt.datediff('cohort_month', 'as_of_date', 'month') }}
            + 1
        ) as n_expected_months

    from customers

),

month_counts as (

    select
        sum(monthly.new_customers) as n_new,
        sum(case when monthly.month_end_date = as_of.as_of_date then monthly.customers_end end)
            as n_end_as_of,
        max(monthly.activity_month) as last_month,
        max(cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)) as as_of_month

    from monthly
    cross join as_of

),

customer_month_counts as (

    select count(*) as n_customer_months
    from customer_months

),

checks as (

    select
        case
            when month_counts.last_month != month_counts.as_of_month
                then 'the last month of rpt_retention_rate_monthly is not the as-of month'
            when coalesce(month_counts.n_end_as_of, 0) != customer_counts.n_active
                then 'customers_end of the as-of month != active customers of dim_customers'
            when coalesce(month_counts.n_new, 0) != customer_counts.n_customers
                then 'sum of new_customers != customers'
            when customer_month_counts.n_customer_months != coalesce(customer_counts.n_expected_months, 0)
                then 'fct_customer_months does not have one row per customer per month'
            when customer_counts.n_stage_churned != customer_counts.n_churned
                then 'lifecycle_stage churned != is_churned'
            when customer_counts.n_tier_lapsed != customer_counts.n_churned
                then 'value_tier lapsed != is_churned'
        end as failure

    from customer_counts
    cross join month_counts
    cross join customer_month_counts

)

select * from checks
where failure is not null
