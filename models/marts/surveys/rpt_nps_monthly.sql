{#- One row per calendar month with at least one valid survey response: NPS with its 95%
    interval, CSAT and CSI (docs blocks nps_definition, csat_definition, csi_definition). -#}
with

responses as (

    select * from {{ ref('int_survey_responses_scored') }}

),

monthly as (

    select
        cast({{ dbt.date_trunc('month', 'response_date') }} as date) as response_month,
        count(*) as responses,
        count(nps_score) as nps_responses,
        count(case when nps_class = 'promoter' then 1 end) as promoters,
        count(case when nps_class = 'passive' then 1 end) as passives,
        count(case when nps_class = 'detractor' then 1 end) as detractors,
        count(csat_score) as csat_responses,
        count(case when is_csat_satisfied then 1 end) as satisfied_responses,
        count(csi) as csi_responses,
        cast(avg(csi) as double) as csi

    from responses
    group by cast({{ dbt.date_trunc('month', 'response_date') }} as date)

),

scored as (

    select
        *,
        cast(100.0 * (promoters - detractors) / nullif(nps_responses, 0) as double) as nps,
        cast({{ nps_margin_of_error('promoters', 'detractors', 'nps_responses') }} as double) as nps_margin_of_error,
        cast(satisfied_responses as double) / nullif(csat_responses, 0) as csat

    from monthly

),

bounded as (

    select
        *,
        nps - nps_margin_of_error as nps_lower_95,
        nps + nps_margin_of_error as nps_upper_95

    from scored

),

final as (

    select
        responses,
        nps_responses,
        promoters,
        passives,
        detractors,
        nps,
        nps_margin_of_error,
        nps_lower_95,
        nps_upper_95,
        csat_responses,
        satisfied_responses,
        csat,
        csi_responses,
        csi,
        response_month

    from bounded

)

select * from final
