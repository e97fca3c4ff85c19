{#- numerator / denominator as money, rounded half away from zero to the money type's four
    decimals with integer arithmetic, so that every engine gives the same digits. A decimal
    divided by a number is a double in DuckDB, whose halfway cases (0.0003 / 2) then round
    either way; Spark divides decimals exactly but rounds twice (to 6 decimals, then to 4).
    numerator: an exact decimal with at most four decimals (money); denominator: a positive
    whole number. -#}
{% macro money_ratio(numerator, denominator) -%}
    {%- set units = 'cast((' ~ numerator ~ ') * 10000 as ' ~ dbt.type_bigint() ~ ')' -%}
    {%- set parts = 'cast(' ~ denominator ~ ' as ' ~ dbt.type_bigint() ~ ')' -%}
    cast(
        cast(
            (case when {{ units }} < 0 then -1 else 1 end)
            * {{ loyalty.integer_divide('2 * abs(' ~ units ~ ') + ' ~ parts, '2 * ' ~ parts) }}
            as decimal(18, 0)
        ) * 0.0001 as {{ money_type() }}
    )
{%- endmacro %}

{#- Whole-number division of two non-negative whole numbers (the quotient rounded down). -#}
{% macro integer_divide(dividend, divisor) -%}
    {{ return(adapter.dispatch('integer_divide', 'loyalty')(dividend, divisor)) }}
{%- endmacro %}

{% macro default__integer_divide(dividend, divisor) -%}
    cast(floor(({{ dividend }}) / ({{ divisor }})) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro duckdb__integer_divide(dividend, divisor) -%}
    (({{ dividend }}) // ({{ divisor }}))
{%- endmacro %}

{% macro spark__integer_divide(dividend, divisor) -%}
    (({{ dividend }}) div ({{ divisor }}))
{%- endmacro %}
