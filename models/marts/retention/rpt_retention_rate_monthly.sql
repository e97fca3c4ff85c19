{#- Monthly retention and churn: fct_customer_months summed by month. See the
    retention_rate_monthly docs block; the identities are checked by the singular test
    assert_retention_identities. -#}
with

customer_months as (

    select * from {{ ref('fct_customer_months') }}

),

monthly_flows as (

    select
        activity_month,
        max(month_end_date) as month_end_date,
        count(case when is_active_at_month_start then 1 end) as customers_start,
        count(case when lifecycle_status = 'new' then 1 end) as new_customers,
        count(case when lifecycle_status = 'reactivated' then 1 end) as reactivated_customers,
        count(case when lifecycle_status = 'returning' then 1 end) as retained_customers,
        count(case when lifecycle_status = 'churned' then 1 end) as churned_customers,
        count(case when is_active_in_month then 1 end) as customers_end

    from customer_months
    group by activity_month

),

final as (

    select
        activity_month,
        month_end_date,
        customers_start,
        new_customers,
        reactivated_customers,
        retained_customers,
        churned_customers,
        customers_end,
        cast(retained_customers as double) / nullif(customers_start, 0) as retention_rate,
        cast(churned_customers as double) / nullif(customers_start, 0) as churn_rate,
        cast(customers_end - new_customers - reactivated_customers as double)
        / nullif(customers_start, 0) as retention_rate_classic

    from monthly_flows

)

select * from final
