{#- The valid transactions: every raw row that int_transactions_validated did not reject,
    with the columns of the transaction facts. fct_transactions publishes it, and the
    intermediate models that need transactions read it here, so that no intermediate model
    depends on a mart. A view: it only filters and renames. -#}
{{ config(materialized='view') }}

with

validated as (

    select * from {{ ref('int_transactions_validated') }}

),

final as (

    select
        transaction_id,
        customer_id,
        store_id,
        currency,
        product_category,
        channel,
        {{ money('amount') }} as amount,
        quantity,
        amount < 0 as is_refund,
        transaction_date,
        transacted_at

    from validated
    where reject_reason is null

)

select * from final
