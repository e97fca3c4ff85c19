{#- MetricFlow's time spine: one row per day. MetricFlow joins metrics to it to fill
    periods and to compute cumulative metrics; it is not an analyst-facing mart. The range
    covers any as-of date from 1970 to 2099. -#}
with

days as (

    {{ dbt.date_spine(
        datepart="day",
        start_date="cast('1970-01-01' as date)",
        end_date="cast('2100-01-01' as date)",
    ) }}

),

final as (

    select cast(date_day as date) as date_day

    from days

)

select * from final
