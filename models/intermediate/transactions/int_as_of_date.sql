{#- One row: the date the marts describe. See the as_of_date docs block. The date is the var
    as_of_date when dbt is run by hand, else LOYALTY_AS_OF_DATE, which `loyalty run --as-of`
    sets: dbt parses the whole project again when a var changes, only this file when an
    environment variable it reads does. The default is the latest date of
    int_transaction_dates in the plausible range and not later than today. -#}
{%- set as_of_date = var('as_of_date') or env_var('LOYALTY_AS_OF_DATE', '') -%}
{%- if as_of_date -%}
{%- set as_of_expression = "cast('" ~ as_of_date ~ "' as date)" -%}
{%- else -%}
{%- set as_of_expression = 'latest_valid_date' -%}
{%- endif %}
with

transaction_dates as (

    select * from {{ ref('int_transaction_dates') }}

),

latest_valid as (

    select max(transaction_date) as latest_valid_date
    from transaction_dates
    where
        transaction_date >= cast('{{ run_var('min_plausible_date') }}' as date)
        and transaction_date <= cast('{{ run_var('max_plausible_date') }}' as date)
        and transaction_date <= cast({{ dbt.current_timestamp() }} as date)

),

final as (

    select {{ as_of_expression }} as as_of_date
    from latest_valid

)

select * from final
