{#- History of each customer's status across runs (docs block customer_status_history).
    Check strategy on the status columns, with updated_at = the run's as-of date: a new
    version starts only when a status changes, and it is dated by the as-of date, so a
    backfill over past as-of dates (run in order) records the same history as daily runs.
    A run whose as-of date is not later than the latest recorded one selects nothing, so
    an out-of-order or repeated run cannot rewrite history (hard deletes are ignored). -#}
{% snapshot customer_status_snapshot %}

{{ config(
    schema='snapshots',
    unique_key='customer_id',
    strategy='check',
    check_cols=['lifecycle_stage', 'value_tier', 'rfm_segment', 'is_churned'],
    updated_at='status_as_of_at',
    hard_deletes='ignore',
) }}

{%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) if execute else none %}

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

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

final as (

    -- the same values as dim_customers, taken from the models it joins, so that the
    -- history does not depend on the CLV columns of dim_customers
    select
        churn_scores.customer_id,
        lifecycle_stages.lifecycle_stage,
        value_tiers.value_tier,
        rfm_scores.rfm_segment,
        churn_scores.is_churned,
        cast(as_of.as_of_date as {{ dbt.type_timestamp() }}) as status_as_of_at

    from churn_scores
    inner join lifecycle_stages
        on churn_scores.customer_id = lifecycle_stages.customer_id
    inner join rfm_scores
        on churn_scores.customer_id = rfm_scores.customer_id
    inner join value_tiers
        on churn_scores.customer_id = value_tiers.customer_id
    cross join as_of
    {%- if existing %}
    where cast(as_of.as_of_date as {{ dbt.type_timestamp() }}) > (select max(status_as_of_at) from {{ this }})
    {%- endif %}

)

select * from final

{% endsnapshot %}
