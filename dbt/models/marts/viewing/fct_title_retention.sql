-- Retention curve per title (film or episode) over all the data: of the title's starters,
-- the share whose furthest contiguous progress from the start reached 10%, 20%, ... 100%.
with

progress as (

    select * from {{ ref('int_profile_title_progress_accumulated') }}

),

latest as (

    select
        *,
        row_number() over (partition by profile_id, title_id order by as_of_date desc) as recency
    from progress

),

starters as (

    select
        title_id,
        profile_id,
        contiguous_progress_s,
        runtime_s
    from latest
    where recency = 1
        and is_starter

),

curve as (

    select
        starters.title_id,
        progress_pct,
        count(*) as starters,
        count_if(starters.contiguous_progress_s >= progress_pct / 100.0d * starters.runtime_s) as starters_reached
    from starters
    lateral view explode(sequence(10, 100, 10)) pcts as progress_pct
    group by starters.title_id, progress_pct

),

final as (

    select
        title_id,
        progress_pct,
        starters,
        starters_reached,
        starters_reached / starters as share_reached
    from curve

)

select * from final
