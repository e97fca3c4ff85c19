with

source as (

    select * from {{ source('clv', 'customer_scores') }}

),

renamed as (

    select
        customer_id,
        cast(p_alive_bg_nbd as double) as p_alive_bg_nbd,
        cast(p_alive_pareto_nbd as double) as p_alive_pareto_nbd,
        cast(p_alive as double) as p_alive,
        cast(expected_purchases_90d as double) as expected_purchases_90d,
        cast(expected_purchases_365d as double) as expected_purchases_365d,
        cast(churn_probability as double) as churn_probability,
        cast(expected_avg_order_value as double) as expected_avg_order_value,
        cast(predicted_clv_365d as double) as predicted_clv_365d,
        cast(churn_model as {{ dbt.type_string() }}) as churn_model

    from source

)

select * from renamed
