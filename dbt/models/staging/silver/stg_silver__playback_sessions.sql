with

source as (

    select * from {{ source('silver', 'playback_sessions') }}

),

renamed as (

    select
        session_id,
        title_id,
        account_id,
        profile_id,
        device_type,
        country,
        session_start_ts,
        session_end_ts,
        event_date,
        play_time_s,
        content_watched_s,
        contiguous_progress_s,
        max_position_s,
        runtime_s as session_runtime_s,
        event_count,
        has_play_stop,
        has_late_events,
        watched_segments

    from source

)

select * from renamed
