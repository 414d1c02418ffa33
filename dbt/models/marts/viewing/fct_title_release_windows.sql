-- Per programme (film or season) and window of 1, 7, 28 and 91 days from its release:
-- viewing in [release_date, release_date + window_days - 1]. A window is complete when the
-- data covers all of it: it is still open on the latest event date, or it began before the
-- earliest one (a library title released before the data), is_window_complete = false.
-- increment_profiles counts the profiles behind the days a window adds to the one before
-- (days 2-7 of the 7-day window): the difference of two windows rests on them.
with

sessions as (

    select * from {{ ref('stg_silver__playback_sessions') }}

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

programmes as (

    select * from {{ ref('int_programmes_joined') }}

),

progress as (

    select * from {{ ref('int_profile_programme_progress_accumulated') }}

),

data_through as (

    select min(event_date) as data_from_date, max(event_date) as data_through_date from sessions

),

windows as (

    select
        programmes.programme_id,
        programmes.programme_type,
        programmes.runtime_s,
        programmes.release_date,
        window_days,
        date_add(programmes.release_date, window_days - 1) as window_end_date,
        -- The first day this window adds to the previous one (1 -> 7 -> 28 -> 91 days).
        date_add(programmes.release_date, case window_days when 1 then 0 when 7 then 1 when 28 then 7 else 28 end)
            as increment_start_date,
        data_through.data_through_date,
        coalesce(
            programmes.release_date >= data_through.data_from_date
            and date_add(programmes.release_date, window_days - 1) <= data_through.data_through_date,
            false
        ) as is_window_complete
    from programmes
    cross join data_through
    lateral view explode(array(1, 7, 28, 91)) window_list as window_days
    where programmes.release_date <= data_through.data_through_date

),

viewing as (

    select
        windows.programme_id,
        windows.window_days,
        sum(sessions.play_time_s) / 3600.0d as hours_viewed,
        count(*) as plays,
        count(distinct sessions.profile_id) as unique_profiles,
        count(distinct sessions.account_id) as unique_accounts,
        count(distinct case when sessions.event_date >= windows.increment_start_date then sessions.profile_id end)
            as increment_profiles
    from windows
    inner join titles
        on windows.programme_id = titles.programme_id
    inner join sessions
        on titles.title_id = sessions.title_id
        and sessions.event_date between windows.release_date and windows.window_end_date
    group by windows.programme_id, windows.window_days

),

latest_progress as (

    select
        windows.programme_id,
        windows.window_days,
        progress.profile_id,
        progress.is_starter,
        progress.is_watcher,
        progress.is_completer,
        progress.share_watched,
        row_number() over (
            partition by windows.programme_id, windows.window_days, progress.profile_id
            order by progress.as_of_date desc
        ) as recency
    from windows
    inner join progress
        on windows.programme_id = progress.programme_id
        and progress.as_of_date between windows.release_date and windows.window_end_date

),

tiers as (

    select
        programme_id,
        window_days,
        count_if(is_starter) as starters,
        count_if(is_watcher) as watchers,
        count_if(is_completer) as completers,
        avg(case when is_starter then share_watched end) as avg_share_watched
    from latest_progress
    where recency = 1
    group by programme_id, window_days

),

final as (

    select
        windows.programme_id,
        windows.programme_type,
        windows.window_days,
        windows.release_date,
        windows.window_end_date,
        windows.data_through_date,
        windows.is_window_complete,
        windows.runtime_s,
        coalesce(viewing.hours_viewed, 0.0) as hours_viewed,
        coalesce(viewing.hours_viewed, 0.0) / (windows.runtime_s / 3600.0d) as views,
        coalesce(viewing.plays, 0) as plays,
        coalesce(viewing.unique_profiles, 0) as unique_profiles,
        coalesce(viewing.unique_accounts, 0) as unique_accounts,
        coalesce(viewing.increment_profiles, 0) as increment_profiles,
        coalesce(tiers.starters, 0) as starters,
        coalesce(tiers.watchers, 0) as watchers,
        coalesce(tiers.completers, 0) as completers,
        {{ safe_divide('coalesce(tiers.completers, 0)', 'tiers.starters') }} as completion_rate,
        tiers.avg_share_watched
    from windows
    left join viewing
        on windows.programme_id = viewing.programme_id
        and windows.window_days = viewing.window_days
    left join tiers
        on windows.programme_id = tiers.programme_id
        and windows.window_days = tiers.window_days

)

select * from final
