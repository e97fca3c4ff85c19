{#- Every raw row with its reject_reason (null when valid). See the reject_reason docs block.
    The first problem found wins, in the order of the case expressions below, which is the
    reject_order of the reject_reasons seed (the one list of reasons).
    Incremental (README "Incremental daily runs"): a run reclassifies only the rows of
    macro rows_to_reclassify and replaces them by raw_row_id; the rows it (re)classified carry
    its number (macro classification_run), which the incremental marts read. -#}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='raw_row_id',
    on_schema_change='fail',
) }}
with

transactions as (

    select * from {{ ref('stg_raw__transactions') }}
    where {{ rows_to_reclassify(ref('stg_raw__transactions'), ref('int_as_of_date')) }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

checked as (

    select
        *,
        cast(transacted_at as date) as transaction_date,
        case
            when raw_line is not null then 'malformed_line'
            when transaction_id is null then 'missing_transaction_id'
            when customer_id is null then 'missing_customer_id'
            when transacted_at_raw is null then 'missing_transacted_at'
            when transacted_at is null then 'unparseable_transacted_at'
            when
                cast(transacted_at as date) < cast('{{ run_var('min_plausible_date') }}' as date)
                or cast(transacted_at as date) > cast('{{ run_var('max_plausible_date') }}' as date)
                then 'implausible_transacted_at'
            when amount_raw is null then 'missing_amount'
            when amount is null then 'unparseable_amount'
        end as row_problem

    from transactions

),

ranked as (

    -- among well-formed rows, the first copy of a transaction_id (lowest raw_row_id) is kept
    select
        *,
        row_number() over (
            partition by transaction_id, row_problem
            order by raw_row_id
        ) as transaction_id_rank

    from checked

),

final as (

    select
        ranked.raw_row_id,
        ranked.source_file,
        ranked.source_row_number,
        ranked.transaction_id,
        ranked.customer_id,
        ranked.store_id,
        ranked.currency,
        ranked.product_category,
        ranked.channel,
        ranked.transacted_at_raw,
        ranked.amount_raw,
        ranked.quantity_raw,
        ranked.raw_line,
        ranked.amount,
        ranked.quantity,
        ranked.transaction_date,
        ranked.transacted_at,
        case
            when ranked.row_problem is not null then ranked.row_problem
            when ranked.transaction_id_rank > 1 then 'duplicate_transaction_id'
            when ranked.transaction_date > as_of.as_of_date then 'after_as_of'
        end as reject_reason,
        cast({{ classification_run() }} as {{ dbt.type_bigint() }}) as classification_run

    from ranked
    cross join as_of

)

select * from final
