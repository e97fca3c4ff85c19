{#- One row per valid NPS response with what the customer did AFTER it (docs block
    nps_behaviour): over the active_window_days days after the response date (the day itself
    excluded), whether the customer made a purchase day, and the net revenue. A response is
    followed up (is_followed_up) when that whole window lies up to the as-of date; the
    outcomes are null otherwise, so that a young response never counts as a churn. -#}
with

responses as (

    select * from {{ ref('int_survey_responses_scored') }}

),

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

transactions as (

    select * from {{ ref('fct_transactions') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

windows as (

    select
        responses.response_id,
        responses.customer_id,
        responses.nps_class,
        responses.nps_score,
        responses.response_date,
        cast(
            {{ dbt.dateadd('day', checked_var('active_window_days', 31), 'responses.response_date') }} as date
        ) as window_end_date,
        as_of.as_of_date

    from responses
    cross join as_of
    where responses.nps_score is not null

),

purchase_days_after as (

    select
        windows.response_id,
        count(purchase_days.purchase_date) as n_purchase_days_after

    from windows
    inner join purchase_days
        on
            windows.customer_id = purchase_days.customer_id
            and windows.response_date < purchase_days.purchase_date
            and windows.window_end_date >= purchase_days.purchase_date
    group by windows.response_id

),

revenue_after as (

    select
        windows.response_id,
        sum(transactions.amount) as revenue_after

    from windows
    inner join transactions
        on
            windows.customer_id = transactions.customer_id
            and windows.response_date < transactions.transaction_date
            and windows.window_end_date >= transactions.transaction_date
    group by windows.response_id

),

final as (

    select
        windows.response_id,
        windows.customer_id,
        windows.nps_class,
        windows.nps_score,
        case
            when windows.window_end_date <= windows.as_of_date
                then {{ money('coalesce(revenue_after.revenue_after, 0)') }}
        end as revenue_after,
        windows.window_end_date <= windows.as_of_date as is_followed_up,
        case
            when windows.window_end_date <= windows.as_of_date
                then coalesce(purchase_days_after.n_purchase_days_after, 0) = 0
        end as is_churned_after,
        windows.response_date,
        windows.window_end_date

    from windows
    left join purchase_days_after
        on windows.response_id = purchase_days_after.response_id
    left join revenue_after
        on windows.response_id = revenue_after.response_id

)

select * from final
