{#- Filter on stg_raw__transactions: the rows int_transactions_validated must (re)classify in
    this run. A full build classifies every row. An incremental build classifies the raw rows
    not classified before, plus every row that shares a transaction_id with one of them (a new
    copy with a lower raw_row_id, appended to an earlier file, makes the old copy the
    duplicate), plus the rows whose verdict depends on the as-of date (rejected as after_as_of,
    or dated after the as-of date of this run), with every row of their transaction_ids. -#}
{% macro rows_to_reclassify(staged_relation, as_of_relation) -%}
    {%- if is_incremental() -%}
        (
            raw_row_id not in (select classified.raw_row_id from {{ this }} as classified)
            or transaction_id in (
                select staged.transaction_id
                from {{ staged_relation }} as staged
                where staged.raw_row_id not in (select classified.raw_row_id from {{ this }} as classified)
            )
            or transaction_id in (
                select classified.transaction_id
                from {{ this }} as classified
                where
                    classified.reject_reason = 'after_as_of'
                    or classified.transaction_date > (select as_of.as_of_date from {{ as_of_relation }} as as_of)
            )
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
