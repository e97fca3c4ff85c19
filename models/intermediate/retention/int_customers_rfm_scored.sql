{#- One row per customer: RFM quintile scores with a deterministic tie-break and the segment
    from the rfm_segments seed (docs blocks rfm_scores and rfm_segment). -#}
with

customers as (

    select * from {{ ref('int_customers_summarized') }}

),

segments as (

    select * from {{ ref('rfm_segments') }}

),

scored as (

    select
        customer_id,
        cast(ntile(5) over (
            order by last_purchase_date, n_purchase_days, total_revenue, customer_id
        ) as {{ dbt.type_int() }}) as rfm_recency_score,
        cast(ntile(5) over (
            order by n_purchase_days, last_purchase_date, total_revenue, customer_id
        ) as {{ dbt.type_int() }}) as rfm_frequency_score,
        cast(ntile(5) over (
            order by total_revenue, last_purchase_date, n_purchase_days, customer_id
        ) as {{ dbt.type_int() }}) as rfm_monetary_score

    from customers

),

final as (

    select
        scored.customer_id,
        segments.rfm_segment,
        {{ dbt.concat([
            'cast(scored.rfm_recency_score as ' ~ dbt.type_string() ~ ')',
            'cast(scored.rfm_frequency_score as ' ~ dbt.type_string() ~ ')',
            'cast(scored.rfm_monetary_score as ' ~ dbt.type_string() ~ ')',
        ]) }} as rfm_score,
        scored.rfm_recency_score,
        scored.rfm_frequency_score,
        scored.rfm_monetary_score

    from scored
    inner join segments
        on
            scored.rfm_recency_score = segments.rfm_recency_score
            and scored.rfm_frequency_score = segments.rfm_frequency_score

)

select * from final
