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

statuses as (

    select * from {{ ref('int_customers_classified') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

final as (

    -- the statuses of dim_customers, from the model it publishes them from, so that the
    -- history does not depend on the CLV columns of dim_customers
    select
        statuses.customer_id,
        statuses.lifecycle_stage,
        statuses.value_tier,
        statuses.rfm_segment,
        statuses.is_churned,
        cast(as_of.as_of_date as {{ dbt.type_timestamp() }}) as status_as_of_at

    from statuses
    cross join as_of
    {%- if existing %}
    where cast(as_of.as_of_date as {{ dbt.type_timestamp() }}) > (select max(status_as_of_at) from {{ this }})
    {%- endif %}

)

select * from final

{% endsnapshot %}
