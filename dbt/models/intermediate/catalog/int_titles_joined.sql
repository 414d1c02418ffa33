-- One row per playable title the catalogue has listed, as it was last listed (a title that
-- left keeps its plays), with its show, season and the programme it belongs to: a film is
-- its own programme, an episode belongs to its season.
with

titles as (

    select * from {{ ref('stg_silver__catalog_titles') }}
    where is_last_listing

),

shows as (

    select * from {{ ref('stg_silver__catalog_shows') }}
    where is_last_listing

),

seasons as (

    select * from {{ ref('stg_silver__catalog_seasons') }}
    where is_last_listing

),

genres as (

    select
        title_id,
        transform(array_sort(collect_list(struct(genre_rank, genre))), g -> g.genre) as genres
    from {{ ref('stg_silver__catalog_title_genres') }}
    where is_last_listing
    group by title_id

),

joined as (

    select
        titles.title_id,
        titles.title_type,
        titles.title_name,
        titles.show_id,
        shows.show_title,
        seasons.season_id,
        titles.season_number,
        titles.episode_number,
        titles.runtime_s,
        titles.release_date,
        titles.original_language,
        titles.origin_country,
        coalesce(genres.genres, array()) as genres,
        case when titles.title_type = 'film' then titles.title_id else seasons.season_id end as programme_id,
        case when titles.title_type = 'film' then 'film' else 'season' end as programme_type,
        case when titles.title_type = 'film' then 'film' else 'series' end as format,
        case when titles.title_type = 'film' then titles.runtime_s else seasons.season_runtime_s end as programme_runtime_s,
        case
            when titles.title_type = 'film' then titles.release_date
            else seasons.season_release_date
        end as programme_release_date,
        coalesce(shows.original_language, titles.original_language) as programme_language,
        coalesce(shows.origin_country, titles.origin_country) as programme_origin_country
    from titles
    left join shows
        on titles.show_id = shows.show_id
    left join seasons
        on titles.show_id = seasons.show_id
        and titles.season_number = seasons.season_number
    left join genres
        on titles.title_id = genres.title_id

)

select * from joined
