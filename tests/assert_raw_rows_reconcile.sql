-- Nothing is lost: every raw transaction row is either in fct_transactions or in
-- rejected_transactions, never both, and the counts add up exactly. Returns a row on failure.
with

raw_rows as (

    select count(*) as n_rows from {{ source('raw', 'transactions') }}

),

valid_rows as (

    select count(*) as n_rows from {{ ref('fct_transactions') }}

),

rejected_rows as (

    select count(*) as n_rows from {{ ref('rejected_transactions') }}

),

final as (

    select
        raw_rows.n_rows as raw_rows,
        valid_rows.n_rows as valid_rows,
        rejected_rows.n_rows as rejected_rows

    from raw_rows
    cross join valid_rows
    cross join rejected_rows

)

select * from final
where raw_rows != valid_rows + rejected_rows
