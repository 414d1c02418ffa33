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
    where is_last_listing

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

-- Availability at release: the member-weighted share of the service's markets in which
-- the programme can be watched on its release day. A market's weight is the profiles that
-- played anything there in the 28 days up to and including the release day, so the value
-- uses nothing after release and does not drift as later data arrives.
availability as (

    select * from {{ ref('stg_silver__catalog_availability') }}

),

-- Who watched where, and when: one row per day, country and profile.
member_days as (

    select distinct
        event_date,
        country,
        profile_id
    from {{ ref('stg_silver__playback_sessions') }}
    where country is not null

),

release_dates as (

    select distinct release_date
    from programmes
    where release_date is not null

),

market_members as (

    select /*+ broadcast(release_dates) */
        release_dates.release_date,
        member_days.country,
        count(distinct member_days.profile_id) as profiles
    from member_days
    inner join release_dates
        on member_days.event_date between date_sub(release_dates.release_date, 27) and release_dates.release_date
    group by
        release_dates.release_date,
        member_days.country

),

-- A programme is available in a country if any of its titles is, by the SCD2 row valid on
-- the release day (valid_to is the first snapshot that no longer lists it). A title first
-- appears in the snapshot of its release day, so valid_from <= release_date holds for it.
programme_markets as (

    select distinct
        titles.programme_id,
        availability.country
    from titles
    inner join programmes
        on titles.programme_id = programmes.programme_id
    inner join availability
        on titles.title_id = availability.title_id
        and availability.valid_from <= programmes.release_date
        and (availability.valid_to is null or availability.valid_to > programmes.release_date)

),

-- Before the first catalogue snapshot nothing is known about availability: null then.
first_snapshot as (

    select min(valid_from) as first_snapshot_date
    from availability

),

release_availability as (

    select
        programmes.programme_id,
        cast(sum(case when programme_markets.country is not null then market_members.profiles else 0 end) as double)
        / sum(market_members.profiles) as release_availability_share
    from programmes
    cross join first_snapshot
    inner join market_members
        on programmes.release_date = market_members.release_date
    left join programme_markets
        on programmes.programme_id = programme_markets.programme_id
        and market_members.country = programme_markets.country
    where programmes.release_date >= first_snapshot.first_snapshot_date
    group by programmes.programme_id

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
        programmes.show_id,
        release_availability.release_availability_share,
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
    left join release_availability
        on windows.programme_id = release_availability.programme_id

)

select * from final
