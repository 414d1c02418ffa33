{#- Union of [start_s, end_s) stretches. `relation` has the columns `keys` plus start_s and
    end_s; the result has one row per key and merged island (island_start_s, island_end_s).
    Touching stretches ([0,60) and [60,120)) merge into one island, and so do stretches
    separated by at most `gap_s` seconds (the gap then counts as part of the island). -#}
{% macro merge_segments(relation, keys, gap_s=0) -%}
    {%- set key_list = keys | join(', ') -%}
    select
        {{ key_list }},
        min(start_s) as island_start_s,
        max(end_s) as island_end_s
    from (
        select
            flagged.*,
            sum(is_new_island) over (
                partition by {{ key_list }}
                order by start_s, end_s
                rows between unbounded preceding and current row
            ) as island_no
        from (
            select
                segs.*,
                case
                    when start_s > coalesce(max(end_s) over (
                        partition by {{ key_list }}
                        order by start_s, end_s
                        rows between unbounded preceding and 1 preceding
                    ) + {{ gap_s }}, -1.0) then 1
                    else 0
                end as is_new_island
            from {{ relation }} as segs
            where end_s > start_s
        ) as flagged
    ) as numbered
    group by {{ key_list }}, island_no
{%- endmacro %}
