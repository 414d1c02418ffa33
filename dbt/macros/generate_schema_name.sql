{#- Schemas are exactly `staging`, `intermediate` and `marts` (no target prefix): the
    dashboards, GE suites and the forecast read `marts.<model>` whatever the target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
