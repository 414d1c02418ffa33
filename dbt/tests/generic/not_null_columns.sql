{#- Several not_null checks on one table in one query (each dbt test is a Spark job, and
    their fixed cost dominated `dbt build`). A failing row is a row with a null in any of
    the columns. -#}
{% test not_null_columns(model, columns) %}
    select *
    from {{ model }}
    where
        {%- for column in columns %}
        {{ 'or ' if not loop.first }}{{ column }} is null
        {%- endfor %}
{% endtest %}
