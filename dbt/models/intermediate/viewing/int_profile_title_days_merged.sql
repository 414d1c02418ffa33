{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
        on_schema_change='fail',
    )
}}
-- One row per profile, title and event date: the day's play time and the day's watched
-- stretches merged across the profile's sessions.
with

sessions as (

    select * from {{ ref('stg_silver__playback_sessions') }}
    where {{ in_event_date_window('event_date') }}

),

daily as (

    select
        profile_id,
        account_id,
        title_id,
        event_date,
        count(*) as session_count,
        sum(play_time_s) as play_time_s
    from sessions
    group by profile_id, account_id, title_id, event_date

),

stretches as (

    select
        sessions.profile_id,
        sessions.title_id,
        sessions.event_date,
        segment.start_s as start_s,
        segment.end_s as end_s
    from sessions
    lateral view explode(sessions.watched_segments) exploded as segment

),

islands as (

    {{ merge_segments('stretches', ['profile_id', 'title_id', 'event_date']) }}

),

merged as (

    select
        profile_id,
        title_id,
        event_date,
        array_sort(collect_list(named_struct('start_s', island_start_s, 'end_s', island_end_s))) as watched_segments
    from islands
    group by profile_id, title_id, event_date

),

final as (

    select
        daily.profile_id,
        daily.account_id,
        daily.title_id,
        daily.session_count,
        daily.play_time_s,
        coalesce(merged.watched_segments, array()) as watched_segments,
        daily.event_date
    from daily
    left join merged
        on daily.profile_id = merged.profile_id
        and daily.title_id = merged.title_id
        and daily.event_date = merged.event_date

)

select * from final
