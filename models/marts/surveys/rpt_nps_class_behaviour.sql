{#- Behaviour AFTER the response, by NPS class (docs block nps_behaviour): every class has a
    row, empty classes included. -#}
with

followed_up as (

    select * from {{ ref('int_survey_responses_followed_up') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

nps_classes as (

    select
        'promoter' as nps_class,
        1 as class_order
    union all
    select
        'passive' as nps_class,
        2 as class_order
    union all
    select
        'detractor' as nps_class,
        3 as class_order

),

responses as (

    select
        followed_up.*,
        customers.predicted_clv_365d

    from followed_up
    left join customers
        on followed_up.customer_id = customers.customer_id

),

aggregated as (

    select
        nps_classes.nps_class,
        nps_classes.class_order,
        count(responses.response_id) as responses,
        count(distinct responses.customer_id) as customers,
        count(case when responses.is_followed_up then 1 end) as followed_up_responses,
        count(case when responses.is_churned_after then 1 end) as churned_after,
        avg(responses.revenue_after) as avg_revenue_after,
        avg(responses.predicted_clv_365d) as avg_predicted_clv_365d

    from nps_classes
    left join responses
        on nps_classes.nps_class = responses.nps_class
    group by
        nps_classes.nps_class,
        nps_classes.class_order

),

final as (

    select
        nps_class,
        cast(class_order as {{ dbt.type_int() }}) as class_order,
        responses,
        customers,
        followed_up_responses,
        churned_after,
        cast(churned_after as double) / nullif(followed_up_responses, 0) as churn_rate_after,
        {{ money('avg_revenue_after') }} as avg_revenue_after,
        {{ money('avg_predicted_clv_365d') }} as avg_predicted_clv_365d

    from aggregated

)

select * from final
