{#- The grain of a table: the columns are never null and no two rows share them. One query
    per table instead of a uniqueness test plus a not_null test per column (each test is a
    Spark job, and their fixed cost dominated `dbt build`). A failing row is a key that is
    duplicated or has a null part, with how many rows carry it. On a model:
    `grain: {arguments: {columns: [a, b]}}`; on a column, `grain` alone is unique + not_null. -#}
{% test grain(model, columns=none, column_name=none) %}
    {%- set columns = columns or [column_name] %}
    select
        {{ columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
        {%- for column in columns %}
        or {{ column }} is null
        {%- endfor %}
{% endtest %}
