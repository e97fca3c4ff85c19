{#- One wide row per customer: the purchase summary (int_customers_summarized) with every
    later definition joined on customer_id. -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

statuses as (

    select * from {{ ref('int_customers_classified') }}

),

clv_scores as (

    -- written by the pipeline's CLV step between dbt phases (see the clv_models docs block)
    select * from {{ ref('stg_clv__customer_scores') }}

),

latest_surveys as (

    -- the customer's latest NPS and CSAT answers (docs block latest_survey)
    select * from {{ ref('int_customers_latest_survey') }}

),

final as (

    select
        customers.customer_id,
        customers.country,
        customers.acquisition_channel,
        customers.n_transactions,
        customers.n_refunds,
        customers.n_purchase_days,
        customers.frequency,
        customers.recency_days,
        customers.tenure_days,
        customers.days_since_last_purchase,
        customers.n_categories,
        customers.monetary_value,
        customers.total_revenue,
        customers.avg_order_value,
        customers.total_revenue as historical_clv,
        {{ money('clv_scores.predicted_clv_365d') }} as predicted_clv_365d,
        {{ money('clv_scores.predicted_clv_365d_p10') }} as predicted_clv_365d_p10,
        {{ money('clv_scores.predicted_clv_365d_p90') }} as predicted_clv_365d_p90,
        {{ money('clv_scores.expected_avg_order_value') }} as expected_avg_order_value,
        clv_scores.p_alive,
        clv_scores.churn_probability,
        clv_scores.p_alive_bg_nbd,
        clv_scores.p_alive_pareto_nbd,
        clv_scores.expected_purchases_90d,
        clv_scores.expected_purchases_365d,
        clv_scores.p_purchase_30d,
        clv_scores.p_purchase_90d,
        clv_scores.median_days_to_next_purchase_365d,
        clv_scores.churn_model,
        customers.cohort_month,
        customers.first_purchase_date,
        customers.last_purchase_date,
        customers.signup_date,
        customers.as_of_date,
        statuses.lifecycle_stage,
        statuses.churn_risk,
        statuses.rfm_segment,
        statuses.rfm_score,
        statuses.value_tier,
        statuses.typical_gap_days,
        statuses.overdue_ratio,
        statuses.n_purchase_days_active_window,
        statuses.rfm_recency_score,
        statuses.rfm_frequency_score,
        statuses.rfm_monetary_score,
        statuses.revenue_last_12_months,
        statuses.is_churned,
        statuses.last_reactivation_date,
        latest_surveys.latest_nps_class,
        latest_surveys.latest_nps_score,
        latest_surveys.latest_csat_score,
        latest_surveys.latest_nps_date,
        latest_surveys.latest_csat_date

    from customers
    inner join statuses
        on customers.customer_id = statuses.customer_id
    left join clv_scores
        on customers.customer_id = clv_scores.customer_id
    left join latest_surveys
        on customers.customer_id = latest_surveys.customer_id

)

select * from final
