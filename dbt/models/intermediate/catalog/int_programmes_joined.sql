-- One row per programme: the unit the Top 10 ranks and release windows measure, i.e. a
-- film or one season of a series (Netflix ranks each season as its own title).
with

titles as (

    select * from {{ ref('int_titles_joined') }}

),

programmes as (

    select
        programme_id,
        max(programme_type) as programme_type,
        max(format) as format,
        max(case
            when programme_type = 'film' then title_name
            else concat(show_title, ': Season ', cast(season_number as string))
        end) as programme_name,
        max(show_id) as show_id,
        max(show_title) as show_title,
        max(season_number) as season_number,
        count(*) as episode_count,
        max(programme_runtime_s) as runtime_s,
        max(programme_release_date) as release_date,
        max(programme_language) as original_language,
        max(programme_origin_country) as origin_country,
        array_sort(array_distinct(flatten(collect_list(genres)))) as genres
    from titles
    group by programme_id

),

final as (

    select
        programme_id,
        programme_type,
        format,
        programme_name,
        show_id,
        show_title,
        season_number,
        case when programme_type = 'film' then null else episode_count end as episode_count,
        runtime_s,
        release_date,
        original_language,
        {{ language_group('original_language') }} as language_group,
        origin_country,
        origin_country in ({{ european_country_list() }}) as is_european_work,
        genres
    from programmes

)

select * from final
