{#- High-value customers whose net revenue in the last decline_window_days days fell by at
    least decline_threshold_pct percent against the same number of days before; biggest
    losses first (docs block high_value_decline). -#}
{%- set window_days = checked_var('decline_window_days', 1) -%}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

transactions as (

    select * from {{ ref('fct_transactions') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

dated_transactions as (

    select
        transactions.customer_id,
        transactions.amount,
        {{ dbt.datediff('transactions.transaction_date', 'as_of.as_of_date', 'day') }}
            as days_before_as_of

    from transactions
    cross join as_of

),

period_revenue as (

    select
        customer_id,
        sum(case when days_before_as_of < {{ window_days }} then amount else 0 end)
            as recent_period_revenue,
        sum(case when days_before_as_of >= {{ window_days }} then amount else 0 end)
            as prior_period_revenue

    from dated_transactions
    where days_before_as_of < 2 * {{ window_days }}
    group by customer_id

),

declines as (

    select
        customers.customer_id,
        customers.rfm_segment,
        customers.churn_risk,
        period_revenue.prior_period_revenue,
        period_revenue.recent_period_revenue,
        customers.days_since_last_purchase,
        customers.last_purchase_date,
        period_revenue.recent_period_revenue - period_revenue.prior_period_revenue as revenue_change,
        100 * cast(period_revenue.recent_period_revenue - period_revenue.prior_period_revenue as double)
        / cast(period_revenue.prior_period_revenue as double) as change_pct

    from customers
    inner join period_revenue
        on customers.customer_id = period_revenue.customer_id
    where
        customers.value_tier = 'high_value'
        and period_revenue.prior_period_revenue > 0

),

final as (

    select
        customer_id,
        rfm_segment,
        churn_risk,
        cast(row_number() over (order by revenue_change, customer_id) as {{ dbt.type_int() }}) as loss_rank,
        {{ money('prior_period_revenue') }} as prior_period_revenue,
        {{ money('recent_period_revenue') }} as recent_period_revenue,
        {{ money('revenue_change') }} as revenue_change,
        change_pct,
        days_since_last_purchase,
        last_purchase_date

    from declines
    where change_pct <= -{{ checked_var('decline_threshold_pct', 0, 100) }}

)

select * from final
order by loss_rank
