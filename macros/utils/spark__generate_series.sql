{#- dbt's generate_series on Spark: one row per number 1 .. upper_bound from Spark's own
    sequence, instead of dbt's default (a cross join of one two-row table per power of two,
    e.g. 16 of them for the time spine's days, which Spark plans and runs as a large job).
    date_spine and int_calendar_months build on it. -#}
{% macro spark__generate_series(upper_bound) %}
    select explode(sequence(1, {{ upper_bound }})) as generated_number
{% endmacro %}
