{#- One row per valid survey response with its NPS class, CSAT satisfaction and CSI (docs
    blocks nps_definition, csat_definition, csi_definition). The CSI of a response is
    defined here, once. -#}
with

responses as (

    select * from {{ ref('int_survey_responses_validated') }}

),

attribute_scores as (

    select * from {{ ref('stg_raw__survey_attribute_scores') }}

),

csi_weights as (

    select * from {{ ref('csi_weights') }}

),

valid_responses as (

    select * from responses
    where reject_reason is null

),

csi as (

    -- weighted mean of the answered attributes, each rescaled from its scale to 0-100;
    -- the weights of the answered attributes are renormalised to sum to 1
    select
        attribute_scores.raw_row_id,
        cast(100.0 * sum(
            csi_weights.weight
            * (attribute_scores.score - csi_weights.scale_min)
            / cast(csi_weights.scale_max - csi_weights.scale_min as double)
        ) / sum(csi_weights.weight) as double) as csi

    from attribute_scores
    inner join csi_weights
        on attribute_scores.attribute_name = csi_weights.attribute
    where attribute_scores.score is not null
    group by attribute_scores.raw_row_id

),

final as (

    select
        valid_responses.response_id,
        valid_responses.customer_id,
        {{ nps_class('valid_responses.nps_score') }} as nps_class,
        valid_responses.nps_score,
        valid_responses.csat_score,
        csi.csi,
        valid_responses.n_attribute_scores,
        case
            when valid_responses.csat_score is not null then valid_responses.csat_score >= 4
        end as is_csat_satisfied,
        valid_responses.response_date,
        valid_responses.responded_at

    from valid_responses
    left join csi
        on valid_responses.raw_row_id = csi.raw_row_id

)

select * from final
