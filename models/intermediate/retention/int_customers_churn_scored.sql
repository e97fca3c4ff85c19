{#- One row per customer: churned or not on the as-of date (docs block active_customer) and
    how overdue they are against their typical gap between purchase days (docs block
    churn_risk). -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

population_gap as (

    -- mean gap between consecutive purchase days over every repeat purchase of the base
    select cast(sum(recency_days) as double) / nullif(sum(frequency), 0) as population_gap_days
    from customers
    where frequency > 0

),

gaps as (

    select
        customers.customer_id,
        customers.days_since_last_purchase,
        {{ is_active_on('customers.last_purchase_date', 'customers.as_of_date') }} = false as is_churned,
        case
            when customers.frequency > 0
                then cast(customers.recency_days as double) / customers.frequency
            else coalesce(
                population_gap.population_gap_days,
                cast({{ checked_var('active_window_days', 31) }} as double)
            )
        end as typical_gap_days

    from customers
    cross join population_gap

),

overdue as (

    select
        *,
        days_since_last_purchase / typical_gap_days as overdue_ratio

    from gaps

),

final as (

    select
        customer_id,
        case
            when is_churned then 'high'
            when overdue_ratio <= {{ checked_var('churn_risk_medium_gap_ratio', 0) }} then 'low'
            when overdue_ratio <= {{ checked_var('churn_risk_high_gap_ratio', run_var('churn_risk_medium_gap_ratio')) }}
                then 'medium'
            else 'high'
        end as churn_risk,
        typical_gap_days,
        overdue_ratio,
        is_churned

    from overdue

)

select * from final
