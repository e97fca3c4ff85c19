{#- The month spine: every calendar month from the first cohort month (the month of the
    earliest first purchase) to the as-of month, with the day its end-of-month status is
    measured on. The one list of months that fct_customer_months and
    rpt_cohort_retention_monthly lay their grids on. -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

month_offsets as (

    -- 0 .. 1199: up to 100 years of months
    select generated_number - 1 as month_offset
    from ({{ dbt.generate_series(1200) }}) as series

),

first_month as (

    select min(cohort_month) as first_month
    from customers

),

months as (

    select
        cast({{ dbt.dateadd('month', 'month_offsets.month_offset', 'first_month.first_month') }} as date)
            as activity_month,
        as_of.as_of_date

    from month_offsets
    cross join first_month
    cross join as_of
    where
        month_offsets.month_offset
        <= {{ dbt.datediff('first_month.first_month', 'as_of.as_of_date', 'month') }}

),

final as (

    select
        activity_month,
        case
            when activity_month = cast({{ dbt.date_trunc('month', 'as_of_date') }} as date)
                then as_of_date
            else cast({{ dbt.last_day('activity_month', 'month') }} as date)
        end as month_end_date

    from months

)

select * from final
