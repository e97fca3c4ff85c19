with

source as (

    select * from {{ source('clv', 'holdout_validation') }}

),

renamed as (

    select
        model_name,
        frequency_bucket,
        cast(bucket_order as integer) as bucket_order,
        cast(n_customers as {{ dbt.type_bigint() }}) as n_customers,
        cast(predicted_repeat_purchases as double) as predicted_repeat_purchases,
        cast(actual_repeat_purchases as double) as actual_repeat_purchases,
        cast(mean_absolute_error as double) as mean_absolute_error,
        cast(calibration_end_date as date) as calibration_end_date,
        cast(holdout_end_date as date) as holdout_end_date

    from source

)

select * from renamed
