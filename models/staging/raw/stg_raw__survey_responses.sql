{#- The comment is deliberately not selected: survey text never leaves the raw layer. -#}
with

source as (

    select * from {{ source('raw', 'survey_responses') }}

),

renamed as (

    select
        raw_row_id,
        source_file,
        source_row_number,
        response_id,
        customer_id,
        responded_at as responded_at_raw,
        nps_score as nps_score_raw,
        csat_score as csat_score_raw,
        {{ parse_integer('nps_score') }} as nps_score,
        {{ parse_integer('csat_score') }} as csat_score,
        {{ parse_timestamp('responded_at') }} as responded_at

    from source

)

select * from renamed
