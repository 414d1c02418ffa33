{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['as_of_date'],
        on_schema_change='fail',
    )
}}
-- A profile's progress through a title as of the end of each day on which it played it:
-- everything since its first play (play time, distinct seconds watched, furthest
-- contiguous progress from 0) and the viewing tier that gives.
with

days as (

    select * from {{ ref('int_profile_title_days_merged') }}

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

as_of as (

    select
        profile_id,
        account_id,
        title_id,
        event_date as as_of_date
    from days
    where {{ in_event_date_window('event_date') }}

),

history as (

    select
        as_of.profile_id,
        as_of.account_id,
        as_of.title_id,
        as_of.as_of_date,
        days.event_date,
        days.play_time_s,
        days.watched_segments
    from as_of
    inner join days
        on as_of.profile_id = days.profile_id
        and as_of.title_id = days.title_id
        and days.event_date <= as_of.as_of_date

),

played as (

    select
        profile_id,
        account_id,
        title_id,
        as_of_date,
        min(event_date) as first_play_date,
        count(*) as days_played,
        sum(play_time_s) as play_time_s
    from history
    group by profile_id, account_id, title_id, as_of_date

),

stretches as (

    select
        history.profile_id,
        history.title_id,
        history.as_of_date,
        segment.start_s as start_s,
        segment.end_s as end_s
    from history
    lateral view explode(history.watched_segments) exploded as segment

),

islands as (

    {{ merge_segments('stretches', ['profile_id', 'title_id', 'as_of_date']) }}

),

-- Progress from the start without a hole, where a hole of up to contiguity_tolerance_s
-- (player jitter, a rebuffer) is no hole: silver's contiguous_progress_s rule.
runs as (

    {{ merge_segments('stretches', ['profile_id', 'title_id', 'as_of_date'], var('contiguity_tolerance_s')) }}

),

contiguous as (

    select
        runs.profile_id,
        runs.title_id,
        runs.as_of_date,
        coalesce(max(case when runs.island_start_s <= 0 then least(runs.island_end_s, titles.runtime_s) end), 0.0)
            as contiguous_progress_s
    from runs
    inner join titles
        on runs.title_id = titles.title_id
    group by runs.profile_id, runs.title_id, runs.as_of_date

),

watched as (

    select
        islands.profile_id,
        islands.title_id,
        islands.as_of_date,
        sum(
            greatest(least(islands.island_end_s, titles.runtime_s) - greatest(islands.island_start_s, 0.0), 0.0)
        ) as content_watched_s
    from islands
    inner join titles
        on islands.title_id = titles.title_id
    group by islands.profile_id, islands.title_id, islands.as_of_date

),

final as (

    select
        played.profile_id,
        played.account_id,
        played.title_id,
        titles.programme_id,
        played.first_play_date,
        played.days_played,
        played.play_time_s,
        coalesce(watched.content_watched_s, 0.0) as content_watched_s,
        coalesce(contiguous.contiguous_progress_s, 0.0) as contiguous_progress_s,
        titles.runtime_s,
        {{ is_starter('played.play_time_s') }} as is_starter,
        {{ is_watcher('played.play_time_s', 'coalesce(watched.content_watched_s, 0.0)', 'titles.runtime_s') }} as is_watcher,
        {{ is_completer('played.play_time_s', 'coalesce(watched.content_watched_s, 0.0)', 'titles.runtime_s') }} as is_completer,
        played.as_of_date
    from played
    inner join titles
        on played.title_id = titles.title_id
    left join watched
        on played.profile_id = watched.profile_id
        and played.title_id = watched.title_id
        and played.as_of_date = watched.as_of_date
    left join contiguous
        on played.profile_id = contiguous.profile_id
        and played.title_id = contiguous.title_id
        and played.as_of_date = contiguous.as_of_date

)

select * from final
