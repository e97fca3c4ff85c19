with

validated as (

    select * from {{ ref('int_survey_responses_validated') }}

),

final as (

    select
        raw_row_id,
        source_file,
        source_row_number,
        response_id,
        customer_id,
        reject_reason,
        responded_at_raw as responded_at,
        nps_score_raw as nps_score,
        csat_score_raw as csat_score

    from validated
    where reject_reason is not null

)

select * from final
