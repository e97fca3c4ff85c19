-- Nothing is lost: every raw survey row is either in fct_survey_responses or in
-- rejected_survey_responses, never both, and the counts add up exactly. Returns a row on failure.
with

raw_rows as (

    select count(*) as n_rows from {{ source('raw', 'survey_responses') }}

),

valid_rows as (

    select count(*) as n_rows from {{ ref('fct_survey_responses') }}

),

rejected_rows as (

    select count(*) as n_rows from {{ ref('rejected_survey_responses') }}

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
