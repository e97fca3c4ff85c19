{#- Calibration/holdout check of the transaction models: fitted on purchases up to the
    calibration end date, predicted vs actual repeat purchase days in the holdout period,
    per calibration frequency bucket (0..6, 7+) and in total. See clv_holdout docs block. -#}
with

validation as (

    select * from {{ ref('stg_clv__holdout_validation') }}

),

final as (

    select
        model_name,
        frequency_bucket,
        bucket_order,
        n_customers,
        predicted_repeat_purchases,
        actual_repeat_purchases,
        mean_absolute_error,
        calibration_end_date,
        holdout_end_date,
        predicted_repeat_purchases - actual_repeat_purchases as prediction_error

    from validation

)

select * from final
