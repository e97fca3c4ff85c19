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
                customer_months.customer_id in (
                    select validated.customer_id
                    from {{ validated_relation }} as validated
                    where {{ latest_classification_run(validated_relation, 'validated.') }}
                )
                and not exists (
                    select 1
                    from {{ customers_relation }} as customers
                    where
                        customers.customer_id = customer_months.customer_id
                        and customers.cohort_month <= customer_months.activity_month
                )
            )
    {%- endif -%}
{%- endmacro %}
