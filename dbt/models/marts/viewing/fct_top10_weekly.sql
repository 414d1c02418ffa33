{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['week_start_date'],
        on_schema_change='fail',
    )
}}
-- Netflix-style weekly Top 10: Monday-Sunday weeks, programmes (films, and each season of
-- a series as its own title) ranked by views in four lists, globally and per country.
with

sessions as (

    select * from {{ ref('stg_silver__playback_sessions') }}
    where {{ in_week_window('event_date') }}

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

programmes as (

    select * from {{ ref('int_programmes_joined') }}

),

programme_sessions as (

    select
        {{ week_start('sessions.event_date') }} as week_start_date,
        sessions.country,
        sessions.profile_id,
        titles.programme_id,
        sessions.play_time_s
    from sessions
    inner join titles
        on sessions.title_id = titles.title_id

),

-- One pass for both markets: the grouping set without country is the GLOBAL list.
by_market as (

    select
        week_start_date,
        case when grouping(country) = 1 then 'GLOBAL' else country end as market,
        programme_id,
        sum(play_time_s) / 3600.0d as hours_viewed,
        count(distinct profile_id) as unique_profiles
    from programme_sessions
    group by grouping sets (
        (week_start_date, programme_id),
        (week_start_date, country, programme_id)
    )

),

listed as (

    select
        by_market.week_start_date,
        by_market.market,
        -- The global lists split each format by original language; a country's do not.
        concat(
            case when programmes.format = 'film' then 'films' else 'tv' end,
            case when by_market.market = 'GLOBAL' then concat('_', programmes.language_group) else '' end
        ) as list_name,
        by_market.programme_id,
        programmes.programme_type,
        by_market.hours_viewed,
        by_market.hours_viewed / (programmes.runtime_s / 3600.0d) as views,
        by_market.unique_profiles,
        programmes.runtime_s
    from by_market
    inner join programmes
        on by_market.programme_id = programmes.programme_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by week_start_date, market, list_name
            order by views desc, hours_viewed desc, programme_id
        ) as week_rank
    from listed

),

final as (

    select
        market,
        list_name,
        week_rank,
        programme_id,
        programme_type,
        hours_viewed,
        views,
        unique_profiles,
        runtime_s,
        date_add(week_start_date, 6) as week_end_date,
        week_start_date
    from ranked
    where week_rank <= 10

)

select * from final
