{#- One row per customer: lifecycle_stage as of the as-of date, first matching rule wins
    (docs block lifecycle_stage). -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

churn_scores as (

    select * from {{ ref('int_customers_churn_scored') }}

),

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_days_with_previous as (

    select
        customer_id,
        purchase_date,
        lag(purchase_date) over (partition by customer_id order by purchase_date) as previous_purchase_date

    from purchase_days

),

purchase_day_facts as (

    -- a reactivation is a purchase day on whose eve the customer was churned
    select
        purchase_days_with_previous.customer_id,
        max(
            case
                when
                    purchase_days_with_previous.previous_purchase_date is not null
                    and not {{ is_active_on(
                        'purchase_days_with_previous.previous_purchase_date',
                        dbt.dateadd('day', -1, 'purchase_days_with_previous.purchase_date')) }}
                    then purchase_days_with_previous.purchase_date
            end
        ) as last_reactivation_date,
        count(
            case
                when {{ is_active_on('purchase_days_with_previous.purchase_date', 'as_of.as_of_date') }}
                    then 1
            end
        ) as n_purchase_days_active_window

    from purchase_days_with_previous
    cross join as_of
    group by purchase_days_with_previous.customer_id

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
                {{ dbt.datediff('purchase_day_facts.last_reactivation_date', 'customers.as_of_date', 'day') }}
                < {{ checked_var('recent_customer_days', 1) }}
                then 'reactivated'
            when churn_scores.churn_risk = 'high' then 'at_risk'
            when purchase_day_facts.n_purchase_days_active_window >= {{ checked_var('loyal_min_purchase_days', 2) }}
                then 'loyal'
            when customers.n_purchase_days > 1 then 'repeat'
            else 'one_time'
        end as lifecycle_stage,
        cast(purchase_day_facts.n_purchase_days_active_window as {{ dbt.type_bigint() }})
            as n_purchase_days_active_window,
        purchase_day_facts.last_reactivation_date

    from customers
    inner join churn_scores
        on customers.customer_id = churn_scores.customer_id
    inner join purchase_day_facts
        on customers.customer_id = purchase_day_facts.customer_id

)

select * from final
