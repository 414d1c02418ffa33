-- Per country and calendar month: what the catalogue offers (programmes and runtime hours
-- available) against what members watch (hours viewed), split by origin group and by
-- format, with the share of European works in the catalogue (AVMSD Art. 13: at least 30%).
with

sessions as (

    select * from {{ ref('stg_silver__playback_sessions') }}

),

availability as (

    select * from {{ ref('stg_silver__catalog_availability') }}

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

months as (

    select distinct
        trunc(event_date, 'MM') as month_start_date,
        last_day(event_date) as month_end_date
    from sessions

),

-- A title is on offer in a month if it was released by the month's end and available in
-- the country on at least one day of the month.
offer_titles as (

    select distinct
        availability.country,
        months.month_start_date,
        titles.title_id,
        titles.programme_id,
        titles.format,
        titles.runtime_s,
        titles.programme_origin_country as origin_country
    from availability
    inner join months
        on availability.valid_from <= months.month_end_date
        and (availability.valid_to is null or availability.valid_to > months.month_start_date)
    inner join titles
        on availability.title_id = titles.title_id
        and titles.release_date <= months.month_end_date

),

demand_sessions as (

    select
        sessions.country,
        trunc(sessions.event_date, 'MM') as month_start_date,
        sessions.profile_id,
        titles.format,
        titles.programme_origin_country as origin_country,
        sessions.play_time_s
    from sessions
    inner join titles
        on sessions.title_id = titles.title_id

),

markets as (

    select distinct country, month_start_date from offer_titles
    union
    select distinct country, month_start_date from demand_sessions

),

groups as (

    select 'origin_group' as breakdown, group_value
    from (select explode(array('domestic', 'other_european', 'us', 'rest_of_world')) as group_value) as origin_groups
    union all
    select 'format' as breakdown, group_value
    from (select explode(array('film', 'series')) as group_value) as formats

),

offer_grouped as (

    select
        country,
        month_start_date,
        'origin_group' as breakdown,
        {{ origin_group('origin_country', 'country') }} as group_value,
        count(distinct programme_id) as programmes_available,
        sum(runtime_s) / 3600.0d as runtime_hours_available
    from offer_titles
    group by 1, 2, 3, 4

    union all

    select
        country,
        month_start_date,
        'format' as breakdown,
        format as group_value,
        count(distinct programme_id) as programmes_available,
        sum(runtime_s) / 3600.0d as runtime_hours_available
    from offer_titles
    group by 1, 2, 3, 4

),

demand_grouped as (

    select
        country,
        month_start_date,
        'origin_group' as breakdown,
        {{ origin_group('origin_country', 'country') }} as group_value,
        sum(play_time_s) / 3600.0d as hours_viewed,
        count(distinct profile_id) as unique_profiles
    from demand_sessions
    group by 1, 2, 3, 4

    union all

    select
        country,
        month_start_date,
        'format' as breakdown,
        format as group_value,
        sum(play_time_s) / 3600.0d as hours_viewed,
        count(distinct profile_id) as unique_profiles
    from demand_sessions
    group by 1, 2, 3, 4

),

european_works as (

    select
        country,
        month_start_date,
        count(distinct programme_id) as programmes_available,
        count(distinct case when origin_country in ({{ european_country_list() }}) then programme_id end)
            as european_programmes_available,
        sum(runtime_s) as runtime_s_available,
        sum(case when origin_country in ({{ european_country_list() }}) then runtime_s else 0 end)
            as european_runtime_s_available
    from offer_titles
    group by country, month_start_date

),

grid as (

    select
        markets.country,
        markets.month_start_date,
        groups.breakdown,
        groups.group_value,
        coalesce(offer_grouped.programmes_available, 0) as programmes_available,
        coalesce(offer_grouped.runtime_hours_available, 0.0) as runtime_hours_available,
        coalesce(demand_grouped.hours_viewed, 0.0) as hours_viewed,
        coalesce(demand_grouped.unique_profiles, 0) as unique_profiles
    from markets
    cross join groups
    left join offer_grouped
        on markets.country = offer_grouped.country
        and markets.month_start_date = offer_grouped.month_start_date
        and groups.breakdown = offer_grouped.breakdown
        and groups.group_value = offer_grouped.group_value
    left join demand_grouped
        on markets.country = demand_grouped.country
        and markets.month_start_date = demand_grouped.month_start_date
        and groups.breakdown = demand_grouped.breakdown
        and groups.group_value = demand_grouped.group_value

),

shares as (

    select
        grid.*,
        {{ safe_divide('grid.programmes_available', 'sum(grid.programmes_available) over (partition by grid.country, grid.month_start_date, grid.breakdown)') }}
            as programme_share,
        {{ safe_divide('grid.runtime_hours_available', 'sum(grid.runtime_hours_available) over (partition by grid.country, grid.month_start_date, grid.breakdown)') }}
            as runtime_share,
        {{ safe_divide('grid.hours_viewed', 'sum(grid.hours_viewed) over (partition by grid.country, grid.month_start_date, grid.breakdown)') }}
            as demand_share
    from grid

),

final as (

    select
        shares.country,
        shares.month_start_date,
        shares.breakdown,
        shares.group_value,
        shares.programmes_available,
        shares.runtime_hours_available,
        shares.hours_viewed,
        shares.unique_profiles,
        shares.programme_share,
        shares.runtime_share,
        shares.demand_share,
        shares.demand_share - shares.runtime_share as demand_minus_offer_share,
        {{ safe_divide('european_works.european_programmes_available', 'european_works.programmes_available') }}
            as european_works_programme_share,
        {{ safe_divide('european_works.european_runtime_s_available', 'european_works.runtime_s_available') }}
            as european_works_runtime_share,
        coalesce(
            european_works.european_programmes_available >= 0.3 * european_works.programmes_available,
            false
        ) as meets_avmsd_european_quota
    from shares
    left join european_works
        on shares.country = european_works.country
        and shares.month_start_date = european_works.month_start_date

)

select * from final
