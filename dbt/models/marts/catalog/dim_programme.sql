-- One row per programme: a film, or one season of a series.
select
    programme_id,
    programme_type,
    format,
    programme_name,
    show_id,
    show_title,
    season_number,
    episode_count,
    runtime_s,
    release_date,
    original_language,
    language_group,
    origin_country,
    is_european_work,
    genres
from {{ ref('int_programmes_joined') }}
