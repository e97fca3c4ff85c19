{#- Where-condition on int_transactions_validated (`validated_relation`, aliased or not by
    `prefix`): the rows that its latest run (re)classified (macro classification_run). They
    hold every row whose verdict may have changed, with every row of their transaction_ids,
    so their transaction_ids and customer_ids are the ones the incremental models downstream
    rebuild. After a full build of int_transactions_validated that is every row. -#}
{% macro latest_classification_run(validated_relation, prefix='') -%}
    {{ prefix }}classification_run = (
        select max(latest.classification_run) from {{ validated_relation }} as latest
    )
{%- endmacro %}
