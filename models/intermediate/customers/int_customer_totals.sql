{#- One row per customer with at least one valid purchase: what their valid transactions and
    purchase days add up to, none of which depends on the as-of date (int_customers_summarized
    adds what does: tenure, days since the last purchase). The BTYD summary (frequency,
    recency_days, monetary_value) follows the conventions of lifetimes / pymc-marketing at day
    grain: see the btyd_summary docs block.
    Incremental (README "Incremental daily runs"): a run recomputes the customers of the rows
    that int_transactions_validated (re)classified in its latest run (macro
    latest_classification_run), replaced by customer_id; the post-hook deletes those of them
    who no longer have a purchase. -#}
-- depends_on: {{ ref('int_transactions_validated') }}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='customer_id',
    on_schema_change='fail',
    post_hook="{{ delete_customers_without_purchase(ref('int_transactions_validated'), ref('int_transactions_accepted')) }}",
) }}
with
{%- if is_incremental() %}

customers_to_rebuild as (

    {{ customers_of_latest_classification(ref('int_transactions_validated')) }}

),
{%- endif %}

transactions as (

    select * from {{ ref('int_transactions_accepted') }}
    {%- if is_incremental() %}
        where customer_id in (select customers_to_rebuild.customer_id from customers_to_rebuild)
    {%- endif %}

),

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}
    {%- if is_incremental() %}
        where customer_id in (select customers_to_rebuild.customer_id from customers_to_rebuild)
    {%- endif %}

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

purchase_days_with_previous as (

    select
        customer_id,
        purchase_date,
        lag(purchase_date) over (partition by customer_id order by purchase_date) as previous_purchase_date

    from purchase_days

),

reactivations as (

    -- a reactivation is a purchase day on whose eve the customer was churned (docs block
    -- lifecycle_stage): the eve's activity depends on the active window only, not on the as-of date
    select
        customer_id,
        max(
            case
                when
                    previous_purchase_date is not null
                    and not {{ is_active_on('previous_purchase_date', dbt.dateadd('day', -1, 'purchase_date')) }}
                    then purchase_date
            end
        ) as last_reactivation_date

    from purchase_days_with_previous
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
        transaction_summary.n_transactions,
        transaction_summary.n_refunds,
        purchase_day_summary.n_purchase_days,
        purchase_day_summary.n_purchase_days - 1 as frequency,
        cast({{ dbt.datediff(
            'purchase_day_summary.first_purchase_date',
            'purchase_day_summary.last_purchase_date',
            'day') }} as {{ dbt.type_int() }}) as recency_days,
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
        reactivations.last_reactivation_date

    from purchase_day_summary
    inner join first_purchase_day
        on purchase_day_summary.customer_id = first_purchase_day.customer_id
    inner join reactivations
        on purchase_day_summary.customer_id = reactivations.customer_id
    inner join transaction_summary
        on purchase_day_summary.customer_id = transaction_summary.customer_id

)

select * from final
