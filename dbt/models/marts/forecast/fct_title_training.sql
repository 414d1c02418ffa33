-- The demand forecast's training table: one row per released programme (film or series
-- season) with its features and its 28-day outcome, read from the marts (never recomputed).
with

programmes as (

    select * from {{ ref('int_programmes_joined') }}

),

windows as (

    select * from {{ ref('fct_title_release_windows') }}
    where window_days = 28

),

credits as (

    select * from {{ ref('stg_silver__catalog_credits') }}
    where is_current

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

-- One credit per programme, person and role: a series credits its cast on every episode.
-- billing_order is the credit's best (lowest) billing over those episodes; null for crew.
programme_credits as (

    select
        titles.programme_id,
        credits.talent_id,
        credits.role,
        min(credits.billing_order) as billing_order
    from credits
    inner join titles
        on credits.title_id = titles.title_id
    where credits.role != 'actor'
        or credits.billing_order <= {{ var('top_billed_actors') | int }}
    group by
        titles.programme_id,
        credits.talent_id,
        credits.role

),

talent as (

    select
        programme_id,
        array_sort(collect_list(named_struct(
            'talent_id', talent_id,
            'role', role,
            'billing_order', billing_order
        ))) as talent
    from programme_credits
    group by programme_id

),

final as (

    select
        windows.programme_id,
        programmes.programme_type,
        programmes.format,
        programmes.programme_name,
        programmes.release_date,
        programmes.genres,
        coalesce(talent.talent, array()) as talent,
        programmes.runtime_s / 60.0d as runtime_minutes,
        coalesce(programmes.episode_count, 1) as episodes,
        programmes.original_language,
        programmes.origin_country,
        windows.hours_viewed as hours_viewed_28d,
        windows.views as views_28d,
        windows.starters as starters_28d,
        windows.completion_rate as completion_rate_28d,
        windows.window_end_date,
        windows.is_window_complete
    from windows
    inner join programmes
        on windows.programme_id = programmes.programme_id
    left join talent
        on windows.programme_id = talent.programme_id

)

select * from final
