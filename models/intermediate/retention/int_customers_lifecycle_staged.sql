{#- One row per customer: lifecycle_stage as of the as-of date, first matching rule wins
    (docs block lifecycle_stage). -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

churn_scores as (

    select * from {{ ref('int_customers_churn_scored') }}

),

totals as (

    select * from {{ ref('int_customer_totals') }}

),

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_days_active_window as (

    -- the last reactivation comes with the customer's totals (int_customer_totals, built
    -- incrementally): only the purchase days in the active window are read here
    select
        purchase_days.customer_id,
        count(*) as n_purchase_days_active_window

    from purchase_days
    cross join as_of
    where {{ is_active_on('purchase_days.purchase_date', 'as_of.as_of_date') }}
    group by purchase_days.customer_id

),

final as (

    select
        customers.customer_id,
        case
            when churn_scores.is_churned then 'churned'
            when
                {{ dbt.datediff('customers.first_purchase_date', 'customers.as_of_date', 'day') }}
                < {{ checked_var('recent_customer_days', 1) }}
                then 'new'
            when
                {{ dbt.datediff('totals.last_reactivation_date', 'customers.as_of_date', 'day') }}
                < {{ checked_var('recent_customer_days', 1) }}
                then 'reactivated'
            when churn_scores.churn_risk = 'high' then 'at_risk'
            when
                coalesce(purchase_days_active_window.n_purchase_days_active_window, 0)
                >= {{ checked_var('loyal_min_purchase_days', 2) }}
                then 'loyal'
            when customers.n_purchase_days > 1 then 'repeat'
            else 'one_time'
        end as lifecycle_stage,
        cast(coalesce(purchase_days_active_window.n_purchase_days_active_window, 0) as {{ dbt.type_bigint() }})
            as n_purchase_days_active_window,
        totals.last_reactivation_date

    from customers
    inner join churn_scores
        on customers.customer_id = churn_scores.customer_id
    inner join totals
        on customers.customer_id = totals.customer_id
    left join purchase_days_active_window
        on customers.customer_id = purchase_days_active_window.customer_id

)

select * from final
