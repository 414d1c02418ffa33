-- Every second of play in silver is in fct_title_daily once (within float rounding).
with

silver as (

    select coalesce(sum(play_time_s), 0.0) / 3600.0 as hours_viewed
    from {{ ref('stg_silver__playback_sessions') }}

),

mart as (

    select coalesce(sum(hours_viewed), 0.0) as hours_viewed
    from {{ ref('fct_title_daily') }}

)

select
    silver.hours_viewed as silver_hours_viewed,
    mart.hours_viewed as mart_hours_viewed
from silver
cross join mart
where abs(silver.hours_viewed - mart.hours_viewed) > 1e-9 * greatest(silver.hours_viewed, 1.0)
