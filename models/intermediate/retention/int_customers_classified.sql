{#- One row per customer with every status the retention definitions give them: churn
    (int_customers_churn_scored), lifecycle stage, RFM segment and value tier. The one place
    these four are joined: dim_customers publishes them and the snapshot
    customer_status_snapshot records their history. -#}
with

churn_scores as (

    select * from {{ ref('int_customers_churn_scored') }}

),

lifecycle_stages as (

    select * from {{ ref('int_customers_lifecycle_staged') }}

),

rfm_scores as (

    select * from {{ ref('int_customers_rfm_scored') }}

),

value_tiers as (

    select * from {{ ref('int_customers_value_tiered') }}

),

final as (

    select
        churn_scores.customer_id,
        lifecycle_stages.lifecycle_stage,
        churn_scores.churn_risk,
        rfm_scores.rfm_segment,
        rfm_scores.rfm_score,
        value_tiers.value_tier,
        churn_scores.typical_gap_days,
        churn_scores.overdue_ratio,
        lifecycle_stages.n_purchase_days_active_window,
        rfm_scores.rfm_recency_score,
        rfm_scores.rfm_frequency_score,
        rfm_scores.rfm_monetary_score,
        value_tiers.revenue_last_12_months,
        churn_scores.is_churned,
        lifecycle_stages.last_reactivation_date

    from churn_scores
    inner join lifecycle_stages
        on churn_scores.customer_id = lifecycle_stages.customer_id
    inner join rfm_scores
        on churn_scores.customer_id = rfm_scores.customer_id
    inner join value_tiers
        on churn_scores.customer_id = value_tiers.customer_id

)

select * from final
