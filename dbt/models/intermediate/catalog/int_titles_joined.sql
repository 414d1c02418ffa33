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
        case when titles.title_type = 'film' then 'film' else 'series' end as format
    from titles
    left join shows
        on titles.show_id = shows.show_id
    left join seasons
        on titles.show_id = seasons.show_id
        and titles.season_number = seasons.season_number
    left join genres
        on titles.title_id = genres.title_id

),

-- A season is every episode it has listed, each as last listed: one that left the
-- catalogue still counts in the season's runtime and release date, as its plays count in
-- the season's hours. A series' language and origin are its first episode's.
final as (

    select
        *,
        case when title_type = 'film' then runtime_s
            else sum(runtime_s) over (partition by programme_id) end as programme_runtime_s,
        case when title_type = 'film' then release_date
            else min(release_date) over (partition by programme_id) end as programme_release_date,
        case when title_type = 'film' then original_language
            else min_by(original_language, struct(release_date, title_id)) over (partition by show_id)
        end as programme_language,
        case when title_type = 'film' then origin_country
            else min_by(origin_country, struct(release_date, title_id)) over (partition by show_id)
        end as programme_origin_country
    from joined

)

select * from final
