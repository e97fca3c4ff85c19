{#- One row per model per run: the fitted BTYD models with their diagnostics. The history
    of every run is kept (the CLV step appends). See the clv_models docs block. -#}
with

fits as (

    select * from {{ ref('stg_clv__model_fits') }}

),

final as (

    select
        run_id,
        model_name,
        fit_purpose,
        time_unit,
        message,
        param_r,
        param_alpha,
        param_a,
        param_b,
        param_s,
        param_beta,
        param_p,
        param_q,
        param_gamma,
        param_delta,
        log_likelihood,
        n_customers,
        is_converged,
        is_selected_churn_model,
        as_of_date,
        calibration_end_date,
        fitted_at

    from fits

)

select * from final
