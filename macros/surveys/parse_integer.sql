{#- Parse a whole number held as text; null when the text is not exactly an integer.
    Strict: '7.5', '7.0', '07', '+7' and '7 pts' are not integers (a plain try_cast would round
    '7.5' to 8 on DuckDB). The loader has trimmed the text already. -#}
{% macro parse_integer(column) -%}
    case
        when cast({{ try_cast(column, dbt.type_int()) }} as {{ dbt.type_string() }}) = {{ column }}
            then {{ try_cast(column, dbt.type_int()) }}
    end
{%- endmacro %}
