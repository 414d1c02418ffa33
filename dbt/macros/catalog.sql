{#- True for the rows of an SCD2 catalogue table that belong to the last listing of their
    `key`: the current rows while it is listed, else the rows that closed when it left the
    catalogue (a licence that ended). A title's last listing is how the marts describe it,
    so the plays a title had before it left keep their programme, runtime and credits. -#}
{% macro is_last_listing(key) -%}
coalesce(valid_to, date'9999-12-31') = max(coalesce(valid_to, date'9999-12-31')) over (partition by {{ key }})
{%- endmacro %}
