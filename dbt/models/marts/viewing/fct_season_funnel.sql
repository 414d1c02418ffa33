-- Per season and episode, over all the data: of the profiles that started episode 1, the
-- share that started and completed each episode; season-level binge rate and median days
-- to complete repeated on each row.
with

title_progress as (

    select * from {{ ref('int_profile_title_progress_accumulated') }}

),

lifetimes as (

    select * from {{ ref('int_profile_programme_lifetimes_summarised') }}

),

titles as (

    select * from {{ ref('int_titles_joined') }}
    where programme_type = 'season'

),

latest_title as (

    select
        title_progress.*,
        row_number() over (
            partition by title_progress.profile_id, title_progress.title_id
            order by title_progress.as_of_date desc
        ) as recency
    from title_progress

),

episode_status as (

    select
        titles.programme_id as season_id,
        titles.episode_number,
        latest_title.profile_id,
        latest_title.is_starter,
        latest_title.is_completer
    from latest_title
    inner join titles
        on latest_title.title_id = titles.title_id
    where latest_title.recency = 1

),

episode_one_starters as (

    select
        season_id,
        profile_id
    from episode_status
    where episode_number = 1
        and is_starter

),

episodes as (

    select
        programme_id as season_id,
        title_id,
        episode_number
    from titles

),

funnel as (

    select
        episodes.season_id,
        episodes.episode_number,
        episodes.title_id,
        count(distinct episode_one_starters.profile_id) as episode_1_starters,
        count(distinct case when episode_status.is_starter then episode_one_starters.profile_id end)
            as episode_starters,
        count(distinct case when episode_status.is_completer then episode_one_starters.profile_id end)
            as episode_completers
    from episodes
    left join episode_one_starters
        on episodes.season_id = episode_one_starters.season_id
    left join episode_status
        on episodes.season_id = episode_status.season_id
        and episodes.episode_number = episode_status.episode_number
        and episode_one_starters.profile_id = episode_status.profile_id
    group by episodes.season_id, episodes.episode_number, episodes.title_id

),

season_completion as (

    select
        lifetimes.programme_id as season_id,
        count_if(lifetimes.is_starter) as season_starters,
        count_if(lifetimes.completion_date is not null) as season_completers,
        count_if(lifetimes.is_binge_completion) as binge_completers,
        percentile(lifetimes.days_to_complete, 0.5) as median_days_to_complete
    from lifetimes
    inner join (select distinct programme_id from titles) as seasons
        on lifetimes.programme_id = seasons.programme_id
    group by lifetimes.programme_id

),

final as (

    select
        funnel.season_id,
        funnel.episode_number,
        funnel.title_id,
        funnel.episode_1_starters,
        funnel.episode_starters,
        funnel.episode_completers,
        {{ safe_divide('funnel.episode_starters', 'funnel.episode_1_starters') }} as share_started,
        {{ safe_divide('funnel.episode_completers', 'funnel.episode_1_starters') }} as share_completed,
        coalesce(season_completion.season_starters, 0) as season_starters,
        coalesce(season_completion.season_completers, 0) as season_completers,
        {{ safe_divide('season_completion.binge_completers', 'season_completion.season_completers') }}
            as binge_rate,
        season_completion.median_days_to_complete
    from funnel
    left join season_completion
        on funnel.season_id = season_completion.season_id

)

select * from final
