{#- One row per customer with at least one valid purchase up to the as-of date: the facts
    every later definition (churn, segments, CLV) starts from. The BTYD summary (frequency, recency_days, tenure_days, monetary_value) follows the
    conventions of lifetimes / pymc-marketing at day grain: see the btyd_summary docs block. -#}
with

transactions as (

    select * from {{ ref('int_transactions_accepted') }}

),

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

customer_attributes as (

    select * from {{ ref('stg_raw__customers') }}

),

purchase_day_summary as (

    select
        customer_id,
        count(*) as n_purchase_days,
        sum(purchase_amount) as purchase_amount_total,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date

    from purchase_days
    group by customer_id

),

first_purchase_day as (

    select
        purchase_days.customer_id,
        purchase_days.purchase_amount as first_day_amount

    from purchase_days
    inner join purchase_day_summary
        on
            purchase_days.customer_id = purchase_day_summary.customer_id
            and purchase_days.purchase_date = purchase_day_summary.first_purchase_date

),

transaction_summary as (

    select
        customer_id,
        count(case when not is_refund then 1 end) as n_transactions,
        count(case when is_refund then 1 end) as n_refunds,
        count(distinct case when not is_refund then product_category end) as n_categories,
        sum(amount) as net_revenue,
        sum(case when not is_refund then amount else 0 end) as gross_revenue

    from transactions
    group by customer_id

),

final as (

    select
        purchase_day_summary.customer_id,
        customer_attributes.country,
        customer_attributes.acquisition_channel,
        transaction_summary.n_transactions,
        transaction_summary.n_refunds,
        purchase_day_summary.n_purchase_days,
        purchase_day_summary.n_purchase_days - 1 as frequency,
        cast({{ dbt.datediff(
            'purchase_day_summary.first_purchase_date',
            'purchase_day_summary.last_purchase_date',
            'day') }} as {{ dbt.type_int() }}) as recency_days,
        cast({{ dbt.datediff(
            'purchase_day_summary.first_purchase_date',
            'as_of.as_of_date',
            'day') }} as {{ dbt.type_int() }}) as tenure_days,
        cast({{ dbt.datediff(
            'purchase_day_summary.last_purchase_date',
            'as_of.as_of_date',
            'day') }} as {{ dbt.type_int() }}) as days_since_last_purchase,
        transaction_summary.n_categories,
        case
            when purchase_day_summary.n_purchase_days > 1
                then {{ money_ratio(
                    'purchase_day_summary.purchase_amount_total - first_purchase_day.first_day_amount',
                    'purchase_day_summary.n_purchase_days - 1'
                ) }}
            else {{ money('0') }}
        end as monetary_value,
        {{ money('transaction_summary.net_revenue') }} as total_revenue,
        {{ money_ratio('transaction_summary.gross_revenue', 'transaction_summary.n_transactions') }}
            as avg_order_value,
        cast({{ dbt.date_trunc('month', 'purchase_day_summary.first_purchase_date') }} as date)
            as cohort_month,
        purchase_day_summary.first_purchase_date,
        purchase_day_summary.last_purchase_date,
        customer_attributes.signup_date,
        as_of.as_of_date

    from purchase_day_summary
    inner join first_purchase_day
        on purchase_day_summary.customer_id = first_purchase_day.customer_id
    inner join transaction_summary
        on purchase_day_summary.customer_id = transaction_summary.customer_id
    left join customer_attributes
        on purchase_day_summary.customer_id = customer_attributes.customer_id
    cross join as_of

)

select * from final
