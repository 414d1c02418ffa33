-- A view: only fct_season_funnel reads it, so a table would be written and read once.
{{ config(materialized='view') }}
-- One row per profile and programme over all the data: the latest progress, the day the
-- profile became a starter and a completer, and whether it finished within 7 days.
with

progress as (

    select * from {{ ref('int_profile_programme_progress_accumulated') }}

),

milestones as (

    select
        profile_id,
        programme_id,
        min(first_play_date) as first_play_date,
        min(case when is_starter then as_of_date end) as starter_date,
        min(case when is_completer then as_of_date end) as completion_date,
        max(as_of_date) as last_play_date
    from progress
    group by profile_id, programme_id

),

latest as (

    select
        *,
        row_number() over (partition by profile_id, programme_id order by as_of_date desc) as recency
    from progress

),

final as (

    select
        latest.profile_id,
        latest.account_id,
        latest.programme_id,
        milestones.first_play_date,
        milestones.starter_date,
        milestones.completion_date,
        milestones.last_play_date,
        latest.play_time_s,
        latest.content_watched_s,
        latest.share_watched,
        latest.is_starter,
        latest.is_watcher,
        latest.is_completer,
        datediff(milestones.completion_date, milestones.first_play_date) as days_to_complete,
        -- Finished within the 7 calendar days that begin on the day of the first play.
        coalesce(datediff(milestones.completion_date, milestones.first_play_date) < 7, false)
            as is_binge_completion
    from latest
    inner join milestones
        on latest.profile_id = milestones.profile_id
        and latest.programme_id = milestones.programme_id
    where latest.recency = 1

)

select * from final
