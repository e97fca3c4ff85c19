{#- One row per calendar month from first_month to last_month (both first days of a month,
    dates), as a date column: a generator for a select list, so that each input row becomes
    one row per month of its range. Nothing else in that select may be a generator or a
    window function (Spark allows neither beside explode). -#}
{% macro month_series(first_month, last_month) -%}
    {{ return(adapter.dispatch('month_series', 'loyalty')(first_month, last_month)) }}
{%- endmacro %}

{% macro default__month_series(first_month, last_month) -%}
    cast(unnest(generate_series(cast({{ first_month }} as date), cast({{ last_month }} as date), interval 1 month)) as date)
{%- endmacro %}

{% macro spark__month_series(first_month, last_month) -%}
    explode(sequence(cast({{ first_month }} as date), cast({{ last_month }} as date), interval 1 month))
{%- endmacro %}
