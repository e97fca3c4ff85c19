{#- Fails for every combination of the given columns that occurs more than once
    (dbt_utils' test of the same name, which cannot be installed here).

    With written_by_run (a column of the model that holds the value of the run that wrote each
    row: run_column of the one-row relation run_from, e.g. the as-of date), an incremental
    model's daily run checks only what it can have changed: the rows it wrote, among
    themselves and against the rows it kept, the keys of which earlier runs' tests found
    unique (a duplicate needs at least one written row). Rows written by an earlier run with
    the same value count as written: checked again, never skipped. On a full build every row
    is written by the run: the whole table is checked, as without the argument. -#}
{% test unique_combination_of_columns(model, combination_of_columns, written_by_run=none, run_from=none, run_column=none) %}
{%- set columns = combination_of_columns | join(', ') %}
{%- if written_by_run is none %}

select
    {{ columns }},
    count(*) as n_rows

from {{ model }}
group by {{ columns }}
having count(*) > 1

{%- else %}

with

this_run as (

    select max({{ run_column }}) as run_value
    from {{ run_from }}

),

rows_of_model as (

    select
        {{ columns }},
        coalesce({{ written_by_run }} = (select this_run.run_value from this_run), false) as is_written

    from {{ model }}

),

written as (

    select {{ columns }}
    from rows_of_model
    where is_written

),

kept as (

    select {{ columns }}
    from rows_of_model
    where not is_written

),

written_twice as (

    select
        {{ columns }},
        count(*) as n_rows

    from written
    group by {{ columns }}
    having count(*) > 1

),

written_and_kept as (

    select
        {% for column in combination_of_columns -%}
            written.{{ column }},
        {% endfor -%}
        2 as n_rows

    from written
    inner join kept
        on
            {% for column in combination_of_columns -%}
                {{ 'and ' if not loop.first }}written.{{ column }} = kept.{{ column }}
            {% endfor %}

)

select * from written_twice
union all
select * from written_and_kept

{%- endif %}

{% endtest %}
