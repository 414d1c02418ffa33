-- One row per playable title (film or episode) the catalogue has listed, as last listed.
with

titles as (

    select * from {{ ref('int_titles_joined') }}

),

final as (

    select
        title_id,
        title_type,
        title_name,
        programme_id,
        programme_type,
        format,
        show_id,
        show_title,
        season_id,
        season_number,
        episode_number,
        runtime_s,
        release_date,
        original_language,
        {{ language_group('programme_language') }} as language_group,
        origin_country,
        origin_country in ({{ european_country_list() }}) as is_european_work,
        genres
    from titles

)

select * from final
