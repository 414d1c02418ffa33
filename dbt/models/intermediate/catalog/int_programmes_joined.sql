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
        max(programme_origin_country) as origin_country
    from titles
    group by programme_id

),

-- A season's genres: each genre at its best place in any episode's list, then by name.
genre_places as (

    select
        titles.programme_id,
        genre_list.genre,
        min(genre_list.place) as place
    from titles
    lateral view posexplode(titles.genres) genre_list as place, genre
    group by titles.programme_id, genre_list.genre

),

programme_genres as (

    select
        programme_id,
        transform(array_sort(collect_list(struct(place, genre))), g -> g.genre) as genres
    from genre_places
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
        coalesce(programme_genres.genres, array()) as genres
    from programmes
    left join programme_genres using (programme_id)

)

select * from final
