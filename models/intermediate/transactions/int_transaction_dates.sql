{#- One row per date on which at least one raw row has a transaction_id, a customer_id, and a
    transacted_at and an amount that parse: the dates int_as_of_date picks the default as-of
    date from (it applies the plausible range and today, which can move between runs).
    Incremental (README "Incremental daily runs"): raw rows are only ever appended, each load
    with one later loaded_at, so a run reads only the rows loaded after the latest loaded_at
    it has seen, instead of parsing every raw row again (a load from scratch drops the table:
    loyalty.incremental.INCREMENTAL_RELATIONS). -#}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='transaction_date',
    on_schema_change='fail',
) }}
with

transactions as (

    select * from {{ ref('stg_raw__transactions') }}
    {%- if is_incremental() %}
        where loaded_at > (
            select coalesce(max(seen.last_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
            from {{ this }} as seen
        )
    {%- endif %}

),

final as (

    select
        cast(transacted_at as date) as transaction_date,
        max(loaded_at) as last_loaded_at

    from transactions
    where
        transaction_id is not null
        and customer_id is not null
        and transacted_at is not null
        and amount is not null
    group by cast(transacted_at as date)

)

select * from final
