with

source as (

    select * from {{ source('raw', 'survey_attribute_scores') }}

),

renamed as (

    select
        raw_row_id,
        lower(attribute) as attribute_name,
        score as score_raw,
        {{ parse_integer('score') }} as score

    from source

)

select * from renamed
