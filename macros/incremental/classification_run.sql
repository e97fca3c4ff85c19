{#- The value of int_transactions_validated.classification_run: 1 on a full build, one more
    than the highest number in the table on an incremental build. Every row a run
    (re)classifies carries that run's number, so the incremental models downstream
    (fct_transactions, fct_customer_months) find the rows of the latest run with
    macro latest_classification_run. -#}
{% macro classification_run() -%}
    {%- if is_incremental() -%}
        (select coalesce(max(classified.classification_run), 0) + 1 from {{ this }} as classified)
    {%- else -%}
        1
    {%- endif -%}
{%- endmacro %}
