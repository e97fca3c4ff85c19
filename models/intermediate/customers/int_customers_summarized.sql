{#- One row per customer with at least one valid purchase up to the as-of date: the facts
    every later definition (churn, segments, CLV) starts from. The totals that do not depend
    on the as-of date come from int_customer_totals (incremental); this adds the customer's
    attributes and what the as-of date decides: tenure (T of the BTYD summary, see the
    btyd_summary docs block) and days since the last purchase. -#}
with

totals as (

    select * from {{ ref('int_customer_totals') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

customer_attributes as (

    select * from {{ ref('stg_raw__customers') }}

),

final as (

    select
        totals.customer_id,
        customer_attributes.country,
        customer_attributes.acquisition_channel,
        totals.n_transactions,
        totals.n_refunds,
        totals.n_purchase_days,
        totals.frequency,
        totals.recency_days,
        cast({{ dbt.datediff(
            'totals.first_purchase_date',
            'as_of.as_of_date',
            'day') }} as {{ dbt.type_int() }}) as tenure_days,
        cast({{ dbt.datediff(
            'totals.last_purchase_date',
            'as_of.as_of_date',
            'day') }} as {{ dbt.type_int() }}) as days_since_last_purchase,
        totals.n_categories,
        totals.monetary_value,
        totals.total_revenue,
        totals.avg_order_value,
        totals.cohort_month,
        totals.first_purchase_date,
        totals.last_purchase_date,
        customer_attributes.signup_date,
        as_of.as_of_date

    from totals
    left join customer_attributes
        on totals.customer_id = customer_attributes.customer_id
    cross join as_of

)

select * from final
