with

source as (

    select * from {{ source('clv', 'model_fits') }}

),

renamed as (

    select
        run_id,
        model_name,
        fit_purpose,
        time_unit,
        message,
        cast(param_r as double) as param_r,
        cast(param_alpha as double) as param_alpha,
        cast(param_a as double) as param_a,
        cast(param_b as double) as param_b,
        cast(param_s as double) as param_s,
        cast(param_beta as double) as param_beta,
        cast(param_p as double) as param_p,
        cast(param_q as double) as param_q,
        cast(param_gamma as double) as param_gamma,
        cast(param_delta as double) as param_delta,
        cast(log_likelihood as double) as log_likelihood,
        cast(n_customers as {{ dbt.type_bigint() }}) as n_customers,
        cast(converged as boolean) as is_converged,
        cast(is_selected as boolean) as is_selected_churn_model,
        cast(as_of_date as date) as as_of_date,
        cast(calibration_end_date as date) as calibration_end_date,
        cast(fitted_at as {{ dbt.type_timestamp() }}) as fitted_at

    from source

)

select * from renamed
