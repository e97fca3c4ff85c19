{#- Parse an ISO-8601 date or timestamp held as text into the wall-clock time of the
    business time zone (var business_time_zone); null when the text is not of the accepted
    form. The one place where text becomes a timestamp.

    Accepted, and nothing else (no 'epoch', 'infinity', 'now', '2024-3-5', '31/02/2024'):
        YYYY-MM-DD
        YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|+HH|+HHMM|+HH:MM|-...]
    A day or time that does not exist (2023-02-30, 25:00) gives null. A value with a UTC
    offset (or Z) is an instant: it is converted to the business time zone. A value without
    an offset is already the business time zone's wall-clock time and is kept as is, so a
    Parquet `timestamp with time zone` (loaded as text with its offset) and a CSV value with
    an offset land on the same day. -#}
{% macro parse_timestamp(column) -%}
    {%- set zone = run_var('business_time_zone') -%}
    {%- set full_pattern = '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-8])(:?[0-5][0-9])?)?)?$' -%}
    {%- set offset = "regexp_extract(" ~ column ~ ", ':[0-9]{2}([.][0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$', 2)" -%}
    {%- set local_text = "replace(substring(" ~ column ~ ", 1, length(" ~ column ~ ") - length(" ~ offset ~ ")), 'T', ' ')" -%}
    {%- set local_ts = try_cast(local_text, dbt.type_timestamp()) -%}
    {%- set offset_minutes -%}
        case
            when {{ offset }} = 'Z' then 0
            else (case when substring({{ offset }}, 1, 1) = '-' then -1 else 1 end)
                * (cast(substring({{ offset }}, 2, 2) as {{ dbt.type_int() }}) * 60
                   + case when length({{ offset }}) > 3 then cast({{ dbt.right(offset, '2') }} as {{ dbt.type_int() }}) else 0 end)
        end
    {%- endset -%}
    {%- set utc_ts = add_minutes(local_ts, "-(" ~ offset_minutes ~ ")") -%}
    {#- Once the pattern matched, a value has an offset when its time part (from character 11)
        holds Z, + or -: found with three plain string searches, so the common value without an
        offset is cast as it is instead of through regexp_extract (10M values: 5.9 s -> 3.7 s). -#}
    {%- set time_part = "substring(" ~ column ~ ", 11)" -%}
    {%- set has_offset -%}
        ({{ dbt.position("'Z'", time_part) }} > 0 or {{ dbt.position("'+'", time_part) }} > 0 or {{ dbt.position("'-'", time_part) }} > 0)
    {%- endset -%}
    {%- if zone | upper in ('UTC', 'ETC/UTC') -%}
        {%- set zoned_ts = utc_ts -%}
    {%- else -%}
        {%- set zoned_ts = utc_to_zone(utc_ts, zone) -%}
    {%- endif -%}
    case
        when not {{ matches_pattern(column, full_pattern) }} then null
        when not {{ has_offset }} then {{ try_cast("replace(" ~ column ~ ", 'T', ' ')", dbt.type_timestamp()) }}
        else {{ zoned_ts }}
    end
{%- endmacro %}
