-- Cohorts partition the customers: the month-0 cohort sizes add up to the rows of
-- dim_customers, and month 0 always has retention 1. Returns a row on failure.
with

customers as (

    select count(*) as n_customers from {{ ref('dim_customers') }}

),

cohorts as (

    select
        sum(cohort_size) as n_cohort_customers,
        min(retention_rate) as min_month0_retention,
        max(retention_rate) as max_month0_retention

    from {{ ref('rpt_cohort_retention_monthly') }}
    where months_since_first_purchase = 0

),

final as (

    select
        customers.n_customers,
        cohorts.n_cohort_customers,
        cohorts.min_month0_retention,
        cohorts.max_month0_retention

    from customers
    cross join cohorts

)

select * from final
where
    n_customers != coalesce(n_cohort_customers, 0)
    or min_month0_retention != 1
    or max_month0_retention != 1
