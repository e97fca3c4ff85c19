{#- Every raw balance row with its reject_reason (null when valid). See the
    balance_reject_reason docs block. The first problem found wins, in the order of the case
    expression below. -#}
with

balances as (

    select * from {{ ref('stg_raw__balances') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

checked as (

    select
        *,
        coalesce(product, 'unspecified') as product_or_unspecified,
        case
            when customer_id is null then 'missing_customer_id'
            when balance_date_raw is null then 'missing_balance_date'
            when balance_date is null then 'unparseable_balance_date'
            when balance_raw is null then 'missing_balance'
            when balance is null then 'unparseable_balance'
            when balance < 0 then 'negative_balance'
        end as row_problem

    from balances

),

ranked as (

    -- among well-formed rows, the first statement of a customer, product and date is kept
    select
        *,
        row_number() over (
            partition by customer_id, product, balance_date, row_problem
            order by raw_row_id
        ) as statement_rank

    from checked

),

final as (

    select
        ranked.raw_row_id,
        ranked.source_file,
        ranked.source_row_number,
        ranked.customer_id,
        ranked.product_or_unspecified as product,
        ranked.product as product_raw,
        ranked.balance_date_raw,
        ranked.balance_raw,
        ranked.balance,
        ranked.balance_date,
        case
            when ranked.row_problem is not null then ranked.row_problem
            when ranked.statement_rank > 1 then 'duplicate_balance'
            when ranked.balance_date > as_of.as_of_date then 'after_as_of'
        end as reject_reason

    from ranked
    cross join as_of

)

select * from final
