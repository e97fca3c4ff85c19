{#- Parse a whole number held as text; null when it is anything else (never rounded).
    Accepted: an optional minus sign and digits, optionally followed by a zero fraction
    (3, -1, 2.0: Parquet float columns arrive as such text). '1.5', '2x', '1e3' give null. -#}
{% macro parse_integer(column) -%}
    case
        when {{ matches_pattern(column, '^-?[0-9]+([.]0+)?$') }}
            then {{ try_cast(dbt.split_part(column, "'.'", 1), dbt.type_int()) }}
    end
{%- endmacro %}
