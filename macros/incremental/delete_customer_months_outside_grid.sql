{#- Post-hook of fct_customer_months on an incremental build: delete the rows that are no
    longer in the grid and that delete+insert (which replaces only the keys it inserts) leaves:
    months after the as-of month (an earlier as-of date, e.g. in a backfill), and rows of the
    customers of the rows reclassified in the latest run of int_transactions_validated who
    have no valid purchase any more or whose cohort month moved later. Nothing on a full
    build. -#}
{% macro delete_customer_months_outside_grid(validated_relation, customers_relation, as_of_relation) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as customer_months
        where
            customer_months.activity_month > (
                select cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)
                from {{ as_of_relation }} as as_of
            )
            or (
                customer_months.customer_id in ({{ customers_of_latest_classification(validated_relation) }})
                -- before the customer's cohort month, or any month when they have no purchase
                -- any more (a scalar subquery on the key: a correlated `not exists` with the
                -- inequality took 17 s on a 40M-row grid, this 1.5 s)
                and customer_months.activity_month < coalesce(
                    (
                        select customers.cohort_month
                        from {{ customers_relation }} as customers
                        where customers.customer_id = customer_months.customer_id
                    ),
                    cast('9999-12-31' as date)
                )
            )
    {%- endif -%}
{%- endmacro %}
