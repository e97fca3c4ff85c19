{#- The one definition of an active customer (docs block active_customer): true when the
    customer's latest purchase day up to `on_date` lies in the active_window_days days up to
    and including `on_date`. `last_purchase_date` must not be later than `on_date`. A
    customer who has bought before and is not active is churned. -#}
{% macro is_active_on(last_purchase_date, on_date) -%}
    ({{ dbt.datediff(last_purchase_date, on_date, 'day') }} < {{ checked_var('active_window_days', 31) }})
{%- endmacro %}
