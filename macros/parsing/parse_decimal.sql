{#- Parse a plain decimal number held as text; null when it is anything else.
    Accepted: an optional minus sign, digits, optionally a point and digits, optionally an
    exponent (12, -8.5, 0.25, 1e3, 1.0E7: Parquet float columns arrive as such text).
    Not accepted: '12,50', '1_000', '+5', '.5', '5.', 'inf', 'nan', '$5', ' 12' (the loader
    trims whitespace before). A number too large for the type also gives null. -#}
{% macro parse_decimal(column, data_type) -%}
    case
        when {{ matches_pattern(column, '^-?[0-9]+([.][0-9]+)?([eE][+-]?[0-9]+)?$') }}
            then {{ try_cast(column, data_type) }}
    end
{%- endmacro %}
