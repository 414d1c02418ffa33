{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
        on_schema_change='fail',
    )
}}
-- (3600.0d is a double literal: Spark reads 3600.0 as a decimal, and runtime_s / 3600.0
-- would be rounded to 6 decimal places.)
-- Title x event date x country x device type. Tiers count the profiles active in the cell
-- that day whose progress through the title (since their first play, on any device) had
-- reached the tier by the end of the day.
with

sessions as (

    select * from {{ ref('stg_silver__playback_sessions') }}
    where {{ in_event_date_window('event_date') }}

),

progress as (

    select * from {{ ref('int_profile_title_progress_accumulated') }}
    where {{ in_event_date_window('as_of_date') }}

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

cells as (

    select
        sessions.title_id,
        sessions.event_date,
        sessions.country,
        sessions.device_type,
        count(*) as plays,
        sum(sessions.play_time_s) / 3600.0d as hours_viewed,
        count(distinct sessions.profile_id) as unique_profiles,
        count(distinct sessions.account_id) as unique_accounts,
        count(distinct case when progress.is_starter then sessions.profile_id end) as starters,
        count(distinct case when progress.is_watcher then sessions.profile_id end) as watchers,
        count(distinct case when progress.is_completer then sessions.profile_id end) as completers
    from sessions
    left join progress
        on sessions.profile_id = progress.profile_id
        and sessions.title_id = progress.title_id
        and sessions.event_date = progress.as_of_date
    group by sessions.title_id, sessions.event_date, sessions.country, sessions.device_type

),

final as (

    select
        cells.title_id,
        titles.programme_id,
        cells.country,
        cells.device_type,
        cells.plays,
        cells.hours_viewed,
        cells.hours_viewed / (titles.runtime_s / 3600.0d) as views,
        cells.unique_profiles,
        cells.unique_accounts,
        cells.starters,
        cells.watchers,
        cells.completers,
        cells.event_date
    from cells
    left join titles
        on cells.title_id = titles.title_id

)

select * from final
