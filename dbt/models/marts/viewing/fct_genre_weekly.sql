{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['week_start_date'],
        on_schema_change='fail',
    )
}}
-- Per genre and Monday-Sunday week. A programme with several genres counts fully in each,
-- so genre shares of hours can add up to more than 1.
with

sessions as (

    select * from {{ ref('stg_silver__playback_sessions') }}
    where {{ in_week_window('event_date') }}

),

progress as (

    select * from {{ ref('int_profile_programme_progress_accumulated') }}
    where {{ in_week_window('as_of_date') }}

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

programmes as (

    select * from {{ ref('int_programmes_joined') }}

),

programme_genres as (

    select
        programme_id,
        genre
    from programmes
    lateral view explode(genres) genre_list as genre

),

programme_sessions as (

    select
        {{ week_start('sessions.event_date') }} as week_start_date,
        sessions.profile_id,
        titles.programme_id,
        sessions.play_time_s
    from sessions
    inner join titles
        on sessions.title_id = titles.title_id

),

programme_weeks as (

    select
        week_start_date,
        programme_id,
        sum(play_time_s) / 3600.0d as hours_viewed
    from programme_sessions
    group by week_start_date, programme_id

),

-- Distinct profiles do not add up over programmes: count them per genre from the sessions.
genre_profiles as (

    select
        programme_sessions.week_start_date,
        programme_genres.genre,
        count(distinct programme_sessions.profile_id) as unique_profiles
    from programme_sessions
    inner join programme_genres
        on programme_sessions.programme_id = programme_genres.programme_id
    group by programme_sessions.week_start_date, programme_genres.genre

),

week_totals as (

    select
        week_start_date,
        sum(hours_viewed) as total_hours_viewed
    from programme_weeks
    group by week_start_date

),

-- Each active profile's progress through the programme at the end of its last day of
-- viewing in the week.
week_progress as (

    select
        {{ week_start('as_of_date') }} as week_start_date,
        programme_id,
        profile_id,
        is_starter,
        is_completer,
        row_number() over (
            partition by {{ week_start('as_of_date') }}, programme_id, profile_id
            order by as_of_date desc
        ) as recency
    from progress

),

programme_tiers as (

    select
        week_start_date,
        programme_id,
        count_if(is_starter) as starters,
        count_if(is_completer) as completers
    from week_progress
    where recency = 1
    group by week_start_date, programme_id

),

-- Starters and completers summed over programmes count a profile once per programme; the
-- distinct profiles behind them are what small-cell suppression needs.
genre_tier_profiles as (

    select
        week_progress.week_start_date,
        programme_genres.genre,
        count(distinct case when week_progress.is_starter then week_progress.profile_id end) as starter_profiles,
        count(distinct case when week_progress.is_completer then week_progress.profile_id end) as completer_profiles
    from week_progress
    inner join programme_genres
        on week_progress.programme_id = programme_genres.programme_id
    where week_progress.recency = 1
    group by week_progress.week_start_date, programme_genres.genre

),

genre_weeks as (

    select
        programme_weeks.week_start_date,
        programme_genres.genre,
        count(*) as programmes_viewed,
        sum(programme_weeks.hours_viewed) as hours_viewed,
        sum(programme_weeks.hours_viewed / (programmes.runtime_s / 3600.0d)) as views,
        sum(coalesce(programme_tiers.starters, 0)) as starters,
        sum(coalesce(programme_tiers.completers, 0)) as completers
    from programme_weeks
    inner join programme_genres
        on programme_weeks.programme_id = programme_genres.programme_id
    inner join programmes
        on programme_weeks.programme_id = programmes.programme_id
    left join programme_tiers
        on programme_weeks.week_start_date = programme_tiers.week_start_date
        and programme_weeks.programme_id = programme_tiers.programme_id
    group by programme_weeks.week_start_date, programme_genres.genre

),

final as (

    select
        genre_weeks.genre,
        genre_weeks.programmes_viewed,
        genre_weeks.hours_viewed,
        genre_weeks.views,
        genre_profiles.unique_profiles,
        genre_weeks.starters,
        genre_weeks.completers,
        coalesce(genre_tier_profiles.starter_profiles, 0) as starter_profiles,
        coalesce(genre_tier_profiles.completer_profiles, 0) as completer_profiles,
        {{ safe_divide('genre_weeks.completers', 'genre_weeks.starters') }} as completion_rate,
        {{ safe_divide('genre_weeks.hours_viewed', 'week_totals.total_hours_viewed') }} as share_of_hours,
        date_add(genre_weeks.week_start_date, 6) as week_end_date,
        genre_weeks.week_start_date
    from genre_weeks
    inner join week_totals
        on genre_weeks.week_start_date = week_totals.week_start_date
    inner join genre_profiles
        on genre_weeks.week_start_date = genre_profiles.week_start_date
        and genre_weeks.genre = genre_profiles.genre
    left join genre_tier_profiles
        on genre_weeks.week_start_date = genre_tier_profiles.week_start_date
        and genre_weeks.genre = genre_tier_profiles.genre

)

select * from final
