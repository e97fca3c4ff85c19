{#- One row per valid survey response up to the as-of date, scored; no text comment. -#}
with

responses as (

    select * from {{ ref('int_survey_responses_scored') }}

),

final as (

    select
        response_id,
        customer_id,
        nps_class,
        nps_score,
        csat_score,
        csi,
        n_attribute_scores,
        is_csat_satisfied,
        response_date,
        responded_at

    from responses

)

select * from final
