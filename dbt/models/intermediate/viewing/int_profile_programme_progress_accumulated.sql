{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['as_of_date'],
        on_schema_change='fail',
    )
}}
-- A profile's progress through a programme (a film, or a season over its total runtime)
-- as of the end of each day on which it played any of it: each title's latest progress
-- on or before that day, summed over the programme's titles.
with

title_progress as (

    select * from {{ ref('int_profile_title_progress_accumulated') }}

),

programmes as (

    select * from {{ ref('int_programmes_joined') }}

),

as_of as (

    select distinct
        profile_id,
        account_id,
        programme_id,
        as_of_date
    from title_progress
    where {{ in_event_date_window('as_of_date') }}

),

latest_per_title as (

    select
        as_of.profile_id,
        as_of.account_id,
        as_of.programme_id,
        as_of.as_of_date,
        title_progress.title_id,
        title_progress.first_play_date,
        title_progress.play_time_s,
        title_progress.content_watched_s,
        row_number() over (
            partition by as_of.profile_id, as_of.programme_id, as_of.as_of_date, title_progress.title_id
            order by title_progress.as_of_date desc
        ) as recency
    from as_of
    inner join title_progress
        on as_of.profile_id = title_progress.profile_id
        and as_of.programme_id = title_progress.programme_id
        and title_progress.as_of_date <= as_of.as_of_date

),

summed as (

    select
        profile_id,
        account_id,
        programme_id,
        as_of_date,
        min(first_play_date) as first_play_date,
        count(*) as titles_played,
        sum(play_time_s) as play_time_s,
        sum(content_watched_s) as content_watched_s
    from latest_per_title
    where recency = 1
    group by profile_id, account_id, programme_id, as_of_date

),

final as (

    select
        summed.profile_id,
        summed.account_id,
        summed.programme_id,
        summed.first_play_date,
        summed.titles_played,
        summed.play_time_s,
        summed.content_watched_s,
        programmes.runtime_s,
        least(summed.content_watched_s / programmes.runtime_s, 1.0) as share_watched,
        {{ is_starter('summed.play_time_s') }} as is_starter,
        {{ is_watcher('summed.play_time_s', 'summed.content_watched_s', 'programmes.runtime_s') }} as is_watcher,
        {{ is_completer('summed.play_time_s', 'summed.content_watched_s', 'programmes.runtime_s') }} as is_completer,
        summed.as_of_date
    from summed
    inner join programmes
        on summed.programme_id = programmes.programme_id

)

select * from final
