{#- One row per customer: net revenue of the last 12 months and the value tier, first
    matching rule wins (docs block value_tier). -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

churn_scores as (

    select * from {{ ref('int_customers_churn_scored') }}

),

transactions as (

    select * from {{ ref('int_transactions_accepted') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

revenue_last_12_months as (

    select
        transactions.customer_id,
        sum(transactions.amount) as revenue_last_12_months

    from transactions
    cross join as_of
    where transactions.transaction_date > {{ dbt.dateadd('month', -12, 'as_of.as_of_date') }}
    group by transactions.customer_id

),

ranked as (

    select
        customers.customer_id,
        customers.n_purchase_days,
        customers.first_purchase_date,
        customers.as_of_date,
        churn_scores.is_churned,
        coalesce(revenue_last_12_months.revenue_last_12_months, 0) as revenue_last_12_months,
        row_number() over (
            partition by churn_scores.is_churned
            order by
                coalesce(revenue_last_12_months.revenue_last_12_months, 0) desc,
                customers.last_purchase_date desc,
                customers.customer_id asc
        ) as revenue_rank,
        count(case when not churn_scores.is_churned then 1 end) over () as n_active_customers

    from customers
    inner join churn_scores
        on customers.customer_id = churn_scores.customer_id
    left join revenue_last_12_months
        on customers.customer_id = revenue_last_12_months.customer_id

),

final as (

    select
        customer_id,
        case
            when is_churned then 'lapsed'
            when
                revenue_last_12_months > 0
                and revenue_rank - 1 < {{ checked_var('high_value_share', 0, 1) }} * n_active_customers
                then 'high_value'
            when
                {{ dbt.datediff('first_purchase_date', 'as_of_date', 'day') }}
                < {{ checked_var('recent_customer_days', 1) }}
                or n_purchase_days = 1
                then 'potential'
            else 'regular'
        end as value_tier,
        {{ money('revenue_last_12_months') }} as revenue_last_12_months

    from ranked

)

select * from final
