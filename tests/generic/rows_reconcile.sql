{#- Nothing is lost: every row of the raw input `model` is either valid (a row of `valid`,
    those matching `valid_where` when given) or in `rejected`, never both, and the counts
    add up exactly. Applied to each raw source (models/staging/raw/__sources.yml), with a
    description that says so in that source's words. Returns a row on failure. -#}
{% test rows_reconcile(model, valid, rejected, valid_where=none) %}

with

raw_rows as (

    select count(*) as n_rows from {{ model }}

),

valid_rows as (

    select count(*) as n_rows from {{ valid }}
    {%- if valid_where %}
    where {{ valid_where }}
    {%- endif %}

),

rejected_rows as (

    select count(*) as n_rows from {{ rejected }}

),

final as (

    select
        raw_rows.n_rows as raw_rows,
        valid_rows.n_rows as valid_rows,
        rejected_rows.n_rows as rejected_rows

    from raw_rows
    cross join valid_rows
    cross join rejected_rows

)

select * from final
where raw_rows != valid_rows + rejected_rows

{% endtest %}
