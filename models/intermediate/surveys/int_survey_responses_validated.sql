{#- Every raw survey row with its reject_reason (null when valid). See the
    survey_reject_reason docs block. The first problem found wins, in the order of the case
    expression below. -#}
with

responses as (

    select * from {{ ref('stg_raw__survey_responses') }}

),

attribute_scores as (

    select * from {{ ref('stg_raw__survey_attribute_scores') }}

),

csi_weights as (

    select * from {{ ref('csi_weights') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

attribute_checks as (

    select
        attribute_scores.raw_row_id,
        count(attribute_scores.score_raw) as n_attribute_scores,
        sum(
            case
                when attribute_scores.score_raw is not null and attribute_scores.score is null then 1
                else 0
            end
        ) as n_unparseable,
        sum(
            case
                when
                    attribute_scores.score < csi_weights.scale_min
                    or attribute_scores.score > csi_weights.scale_max
                    then 1
                else 0
            end
        ) as n_out_of_range

    from attribute_scores
    inner join csi_weights
        on attribute_scores.attribute_name = csi_weights.attribute
    group by attribute_scores.raw_row_id

),

checked as (

    select
        responses.*,
        cast(responses.responded_at as date) as response_date,
        coalesce(attribute_checks.n_attribute_scores, 0) as n_attribute_scores,
        case
            when responses.response_id is null then 'missing_response_id'
            when responses.customer_id is null then 'missing_customer_id'
            when responses.responded_at_raw is null then 'missing_responded_at'
            when responses.responded_at is null then 'unparseable_responded_at'
            when responses.nps_score_raw is not null and responses.nps_score is null
                then 'unparseable_nps_score'
            when responses.nps_score < 0 or responses.nps_score > 10 then 'nps_score_out_of_range'
            when responses.csat_score_raw is not null and responses.csat_score is null
                then 'unparseable_csat_score'
            when responses.csat_score < 1 or responses.csat_score > 5 then 'csat_score_out_of_range'
            when attribute_checks.n_unparseable > 0 then 'unparseable_attribute_score'
            when attribute_checks.n_out_of_range > 0 then 'attribute_score_out_of_range'
            when
                responses.nps_score is null
                and responses.csat_score is null
                and coalesce(attribute_checks.n_attribute_scores, 0) = 0
                then 'no_score'
        end as row_problem

    from responses
    left join attribute_checks
        on responses.raw_row_id = attribute_checks.raw_row_id

),

ranked as (

    -- among well-formed rows, the first copy of a response_id (lowest raw_row_id) is kept
    select
        *,
        row_number() over (
            partition by response_id, row_problem
            order by raw_row_id
        ) as response_id_rank

    from checked

),

final as (

    select
        ranked.raw_row_id,
        ranked.source_file,
        ranked.source_row_number,
        ranked.response_id,
        ranked.customer_id,
        ranked.responded_at_raw,
        ranked.nps_score_raw,
        ranked.csat_score_raw,
        ranked.nps_score,
        ranked.csat_score,
        ranked.n_attribute_scores,
        ranked.response_date,
        ranked.responded_at,
        case
            when ranked.row_problem is not null then ranked.row_problem
            when ranked.response_id_rank > 1 then 'duplicate_response_id'
            when ranked.response_date > as_of.as_of_date then 'after_as_of'
        end as reject_reason

    from ranked
    cross join as_of

)

select * from final
