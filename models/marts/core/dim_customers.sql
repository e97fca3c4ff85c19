{#- One wide row per customer: the purchase summary (int_customers_summarized) with every
    later definition joined on customer_id. -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

final as (

    select * from customers

)

select * from final
