{#- One row per customer per calendar month, from the cohort month to the as-of month, with
    the active rule applied at the start and the end of the month (docs blocks
    active_customer and customer_month_status).
    A full build works on the activity months (a purchase day or a valid transaction in the
    month): each one's range, up to the month before the next activity month or up to the
    as-of month, is expanded into its months (macro month_series), carrying the latest
    purchase day (a running max over the activity months) and the month's own purchases and
    revenue. No join of the ~40M grid rows with anything but the calendar (10M transactions:
    the query 23-26 s -> ~11 s, the same rows).
    Incremental (README "Incremental daily runs"): a run rebuilds (a) every month of the
    customers of the rows that int_transactions_validated (re)classified in its latest run,
    and (b) for everyone else the months from the earlier of the previous and the new as-of
    month on (the only months whose values depend on the as-of date), carrying the latest
    purchase day in from the month before; rows replaced by (customer_id, activity_month),
    and the post-hook deletes the rows no longer in the grid. It lays the rebuilt customers
    and months on the calendar and takes the latest purchase day from the purchase month
    whose range holds each month. -#}
-- depends_on: {{ ref('int_transactions_validated') }}
-- depends_on: {{ ref('int_customers_summarized') }}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['customer_id', 'activity_month'],
    on_schema_change='fail',
    post_hook="{{ delete_customer_months_outside_grid(ref('int_transactions_validated'), ref('int_customers_summarized'), ref('int_as_of_date')) }}",
) }}
with

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

transactions as (

    select * from {{ ref('fct_transactions') }}

),

months as (

    select * from {{ ref('int_calendar_months') }}

),
{%- if is_incremental() %}

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

reclassified_customers as (

    select distinct latest.customer_id
    from ({{ customers_of_latest_classification(ref('int_transactions_validated')) }}) as latest
    where latest.customer_id is not null

),

rebuild_from as (

    -- the earlier of the previous as-of month (the latest month built) and the new one
    select
        least(
            coalesce(max(previous.activity_month), cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)),
            cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)
        ) as rebuild_from_month

    from as_of
    left join {{ this }} as previous on true
    group by as_of.as_of_date

),

customers_to_rebuild as (

    -- a customer of a reclassified row: every month; anyone else: from rebuild_from_month
    select
        customers.customer_id,
        customers.cohort_month,
        case
            when reclassified_customers.customer_id is not null then customers.cohort_month
            when customers.cohort_month > rebuild_from.rebuild_from_month then customers.cohort_month
            else rebuild_from.rebuild_from_month
        end as first_rebuilt_month,
        reclassified_customers.customer_id is not null as is_reclassified

    from customers
    cross join rebuild_from
    left join reclassified_customers
        on customers.customer_id = reclassified_customers.customer_id

),

carried_in as (

    -- the latest purchase day before the first rebuilt month, from the month before it
    select
        previous.customer_id,
        previous.last_purchase_date as carried_last_purchase_date

    from {{ this }} as previous
    inner join customers_to_rebuild
        on
            previous.customer_id = customers_to_rebuild.customer_id
            and previous.activity_month
            = cast({{ dbt.dateadd('month', -1, 'customers_to_rebuild.first_rebuilt_month') }} as date)
    where not customers_to_rebuild.is_reclassified

),
{%- endif %}

monthly_purchases as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'purchase_date') }} as date) as activity_month,
        sum(n_purchases) as n_purchases,
        count(*) as n_purchase_days,
        max(purchase_date) as last_purchase_date_in_month

    from purchase_days
    {%- if is_incremental() %}
        where
            purchase_date >= (select rebuild_from.rebuild_from_month from rebuild_from)
            or customer_id in (select reclassified_customers.customer_id from reclassified_customers)
    {%- endif %}
    group by
        customer_id,
        cast({{ dbt.date_trunc('month', 'purchase_date') }} as date)

),

monthly_revenue as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'transaction_date') }} as date) as activity_month,
        sum(amount) as revenue

    from transactions
    {%- if is_incremental() %}
        where
            transaction_date >= (select rebuild_from.rebuild_from_month from rebuild_from)
            or customer_id in (select reclassified_customers.customer_id from reclassified_customers)
    {%- endif %}
    group by
        customer_id,
        cast({{ dbt.date_trunc('month', 'transaction_date') }} as date)

),

{%- if is_incremental() %}

customer_month_grid as (

    -- the rebuilt months of customers_to_rebuild
    select
        customers_to_rebuild.customer_id,
        customers_to_rebuild.cohort_month,
        months.activity_month,
        months.month_end_date

    from customers_to_rebuild
    inner join months
        on customers_to_rebuild.first_rebuilt_month <= months.activity_month

),

purchase_ranges as (

    -- each purchase month holds the latest purchase day from that month until the next
    -- purchase month: a window over the purchase months instead of over the whole grid
    select
        customer_id,
        activity_month,
        n_purchases,
        n_purchase_days,
        last_purchase_date_in_month,
        lead(activity_month) over (
            partition by customer_id order by activity_month
        ) as next_purchase_month,
        lag(last_purchase_date_in_month) over (
            partition by customer_id order by activity_month
        ) as previous_last_purchase_date

    from monthly_purchases

),

joined as (

    -- each grid month with the purchase month whose range holds it (none before the first
    -- purchase month of the rows read)
    select
        customer_month_grid.customer_id,
        customer_month_grid.cohort_month,
        customer_month_grid.activity_month,
        customer_month_grid.month_end_date,
        purchase_ranges.last_purchase_date_in_month as last_purchase_date,
        case
            when purchase_ranges.activity_month = customer_month_grid.activity_month
                then purchase_ranges.n_purchases
            else 0
        end as n_purchases,
        case
            when purchase_ranges.activity_month = customer_month_grid.activity_month
                then purchase_ranges.n_purchase_days
            else 0
        end as n_purchase_days,
        coalesce(monthly_revenue.revenue, 0) as revenue,
        -- the same up to the previous month
        case
            when purchase_ranges.activity_month = customer_month_grid.activity_month
                then purchase_ranges.previous_last_purchase_date
            else purchase_ranges.last_purchase_date_in_month
        end as last_purchase_date_before_month

    from customer_month_grid
    left join purchase_ranges
        on
            customer_month_grid.customer_id = purchase_ranges.customer_id
            and customer_month_grid.activity_month >= purchase_ranges.activity_month
            and (
                purchase_ranges.next_purchase_month is null
                or customer_month_grid.activity_month < purchase_ranges.next_purchase_month
            )
    left join monthly_revenue
        on
            customer_month_grid.customer_id = monthly_revenue.customer_id
            and customer_month_grid.activity_month = monthly_revenue.activity_month

),

carried_forward as (

    -- the latest purchase days of the months not rebuilt, carried into the rebuilt ones
    select
        joined.customer_id,
        joined.cohort_month,
        joined.activity_month,
        joined.month_end_date,
        joined.n_purchases,
        joined.n_purchase_days,
        joined.revenue,
        coalesce(
            greatest(joined.last_purchase_date, carried_in.carried_last_purchase_date),
            joined.last_purchase_date,
            carried_in.carried_last_purchase_date
        ) as last_purchase_date,
        coalesce(
            greatest(joined.last_purchase_date_before_month, carried_in.carried_last_purchase_date),
            joined.last_purchase_date_before_month,
            carried_in.carried_last_purchase_date
        ) as last_purchase_date_before_month

    from joined
    left join carried_in
        on joined.customer_id = carried_in.customer_id

),
{%- endif %}
{%- if not is_incremental() %}

last_month as (

    select max(activity_month) as activity_month
    from months

),

activity_months as (

    -- the months with a purchase day or a valid transaction (a refund-only month has revenue
    -- but no purchase day)
    select
        monthly_purchases.last_purchase_date_in_month,
        coalesce(monthly_purchases.customer_id, monthly_revenue.customer_id) as customer_id,
        coalesce(monthly_purchases.activity_month, monthly_revenue.activity_month) as activity_month,
        coalesce(monthly_purchases.n_purchases, 0) as n_purchases,
        coalesce(monthly_purchases.n_purchase_days, 0) as n_purchase_days,
        coalesce(monthly_revenue.revenue, 0) as revenue

    from monthly_purchases
    full outer join monthly_revenue
        on
            monthly_purchases.customer_id = monthly_revenue.customer_id
            and monthly_purchases.activity_month = monthly_revenue.activity_month

),

activity_ranges as (

    -- the cohort month (the first purchase month), the next activity month, and the latest
    -- purchase day up to the end of the month and up to the month before
    select
        customer_id,
        activity_month,
        n_purchases,
        n_purchase_days,
        revenue,
        min(case when n_purchase_days > 0 then activity_month end) over (
            partition by customer_id
        ) as cohort_month,
        lead(activity_month) over (
            partition by customer_id order by activity_month
        ) as next_activity_month,
        max(last_purchase_date_in_month) over (
            partition by customer_id order by activity_month
            rows between unbounded preceding and current row
        ) as last_purchase_date,
        max(last_purchase_date_in_month) over (
            partition by customer_id order by activity_month
            rows between unbounded preceding and 1 preceding
        ) as previous_last_purchase_date

    from activity_months

),

range_months as (

    -- each activity month from the cohort month on, expanded to the months of its range
    select
        activity_ranges.customer_id,
        activity_ranges.cohort_month,
        activity_ranges.activity_month as range_month,
        activity_ranges.n_purchases,
        activity_ranges.n_purchase_days,
        activity_ranges.revenue,
        activity_ranges.last_purchase_date,
        activity_ranges.previous_last_purchase_date,
        {{ month_series(
            'activity_ranges.activity_month',
            'coalesce(' ~ dbt.dateadd('month', -1, 'activity_ranges.next_activity_month')
            ~ ', last_month.activity_month)'
        ) }} as activity_month

    from activity_ranges
    cross join last_month
    where activity_ranges.activity_month >= activity_ranges.cohort_month

),

joined as (

    -- an activity month has its own purchases and revenue and the latest purchase day before
    -- it; the other months of its range have none and the range's latest purchase day
    select
        range_months.customer_id,
        range_months.cohort_month,
        range_months.activity_month,
        months.month_end_date,
        range_months.last_purchase_date,
        case
            when range_months.activity_month = range_months.range_month then range_months.n_purchases
            else 0
        end as n_purchases,
        case
            when range_months.activity_month = range_months.range_month then range_months.n_purchase_days
            else 0
        end as n_purchase_days,
        case
            when range_months.activity_month = range_months.range_month then range_months.revenue
            else 0
        end as revenue,
        case
            when range_months.activity_month = range_months.range_month
                then range_months.previous_last_purchase_date
            else range_months.last_purchase_date
        end as last_purchase_date_before_month

    from range_months
    inner join months
        on range_months.activity_month = months.activity_month

),
{%- endif %}

active_at_month_start_and_end as (

    -- the start of a month is the last day of the previous one; nobody is active before
    -- their cohort month
    select
        *,
        coalesce(
            {{ is_active_on(
                'last_purchase_date_before_month',
                dbt.dateadd('day', -1, 'activity_month')) }},
            false
        ) as is_active_at_month_start,
        {{ is_active_on('last_purchase_date', 'month_end_date') }} as is_active_in_month

    from {% if is_incremental() %}carried_forward{% else %}joined{% endif %}

),

final as (

    select
        customer_id,
        case
            when activity_month = cohort_month then 'new'
            when is_active_at_month_start and is_active_in_month then 'returning'
            when is_active_at_month_start then 'churned'
            when is_active_in_month then 'reactivated'
            else 'inactive'
        end as lifecycle_status,
        cast(
            {{ dbt.datediff('cohort_month', 'activity_month', 'month') }}
            as {{ dbt.type_int() }}
        ) as months_since_first_purchase,
        cast(n_purchases as {{ dbt.type_bigint() }}) as n_purchases,
        cast(n_purchase_days as {{ dbt.type_bigint() }}) as n_purchase_days,
        {{ money('revenue') }} as revenue,
        is_active_at_month_start,
        is_active_in_month,
        activity_month,
        cohort_month,
        month_end_date,
        last_purchase_date

    from active_at_month_start_and_end

)

select * from final
