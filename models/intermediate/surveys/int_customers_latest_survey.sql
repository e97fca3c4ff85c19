{#- One row per customer with a valid survey response: the latest NPS score (with its class
    and date) and the latest CSAT score, each from the customer's latest response that has
    one (ties on the timestamp: the later response_id). Joined into dim_customers. -#}
with

responses as (

    select * from {{ ref('int_survey_responses_scored') }}

),

nps_ranked as (

    select
        customer_id,
        nps_class,
        nps_score,
        response_date,
        row_number() over (
            partition by customer_id
            order by responded_at desc, response_id desc
        ) as response_rank

    from responses
    where nps_score is not null

),

csat_ranked as (

    select
        customer_id,
        csat_score,
        response_date,
        row_number() over (
            partition by customer_id
            order by responded_at desc, response_id desc
        ) as response_rank

    from responses
    where csat_score is not null

),

respondents as (

    select distinct customer_id
    from responses

),

final as (

    select
        respondents.customer_id,
        nps_ranked.nps_class as latest_nps_class,
        nps_ranked.nps_score as latest_nps_score,
        csat_ranked.csat_score as latest_csat_score,
        nps_ranked.response_date as latest_nps_date,
        csat_ranked.response_date as latest_csat_date

    from respondents
    left join nps_ranked
        on
            respondents.customer_id = nps_ranked.customer_id
            and nps_ranked.response_rank = 1
    left join csat_ranked
        on
            respondents.customer_id = csat_ranked.customer_id
            and csat_ranked.response_rank = 1

)

select * from final
