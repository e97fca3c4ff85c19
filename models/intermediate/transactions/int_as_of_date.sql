{#- One row: the date the marts describe. See the as_of_date docs block. The date is the var
    as_of_date when dbt is run by hand, else LOYALTY_AS_OF_DATE, which `loyalty run --as-of`
    sets: dbt parses the whole project again when a var changes, only this file when an
    environment variable it reads does. -#}
{%- set as_of_date = var('as_of_date') or env_var('LOYALTY_AS_OF_DATE', '') -%}
{%- if as_of_date -%}
    {%- set as_of_expression = "cast('" ~ as_of_date ~ "' as date)" -%}
{%- else -%}
    {%- set as_of_expression = 'latest_valid_date' -%}
{%- endif %}
with

transactions as (

    select * from {{ ref('stg_raw__transactions') }}

),

latest_valid as (

    select max(cast(transacted_at as date)) as latest_valid_date
    from transactions
    where
        transaction_id is not null
        and customer_id is not null
        and transacted_at is not null
        and amount is not null
        and cast(transacted_at as date) >= cast('{{ run_var('min_plausible_date') }}' as date)
        and cast(transacted_at as date) <= cast('{{ run_var('max_plausible_date') }}' as date)
        and cast(transacted_at as date) <= cast({{ dbt.current_timestamp() }} as date)

),

final as (

    select {{ as_of_expression }} as as_of_date
    from latest_valid

)

select * from final
