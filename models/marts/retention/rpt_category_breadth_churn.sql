{#- Churn by breadth of purchase: customers grouped by the number of distinct product
    categories they have bought (docs block category_breadth_churn). -#}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

breadth_groups as (

    -- every group gets a row, empty groups included
    select
        0 as min_categories,
        'none' as category_breadth
    union all
    select
        1 as min_categories,
        '1' as category_breadth
    union all
    select
        2 as min_categories,
        '2' as category_breadth
    union all
    select
        3 as min_categories,
        '3' as category_breadth
    union all
    select
        4 as min_categories,
        '4+' as category_breadth

),

customer_breadth as (

    select
        customer_id,
        is_churned,
        total_revenue,
        n_purchase_days,
        case when n_categories >= 4 then 4 else n_categories end as min_categories

    from customers

),

aggregated as (

    select
        breadth_groups.category_breadth,
        breadth_groups.min_categories,
        count(customer_breadth.customer_id) as customers,
        count(case when customer_breadth.is_churned then 1 end) as churned_customers,
        avg(customer_breadth.total_revenue) as avg_revenue,
        avg(cast(customer_breadth.n_purchase_days as double)) as avg_purchase_days

    from breadth_groups
    left join customer_breadth
        on breadth_groups.min_categories = customer_breadth.min_categories
    group by
        breadth_groups.category_breadth,
        breadth_groups.min_categories

),

final as (

    select
        category_breadth,
        cast(min_categories as {{ dbt.type_int() }}) as min_categories,
        customers,
        churned_customers,
        cast(churned_customers as double) / nullif(customers, 0) as churn_rate,
        {{ money('avg_revenue') }} as avg_revenue,
        avg_purchase_days

    from aggregated

)

select * from final
