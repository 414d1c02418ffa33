-- Per person and role: the programmes they are credited on (actors only when billed in the
-- top `top_billed_actors`), and how those programmes did in their first 28 days.
with

credits as (

    select * from {{ ref('stg_silver__catalog_credits') }}
    where is_last_listing

),

talent as (

    select * from {{ ref('stg_silver__catalog_talent') }}
    where is_last_listing

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

programmes as (

    select * from {{ ref('int_programmes_joined') }}

),

windows as (

    select * from {{ ref('fct_title_release_windows') }}
    where window_days = 28

),

credited_programmes as (

    select distinct
        credits.talent_id,
        credits.role,
        titles.programme_id
    from credits
    inner join titles
        on credits.title_id = titles.title_id
    where credits.role != 'actor'
        or credits.billing_order <= {{ var('top_billed_actors') | int }}

),

track as (

    select
        credited_programmes.talent_id,
        credited_programmes.role,
        credited_programmes.programme_id,
        programmes.release_date,
        programmes.genres,
        windows.is_window_complete,
        windows.views as views_28d,
        windows.starters as starters_28d,
        windows.completers as completers_28d
    from credited_programmes
    inner join programmes
        on credited_programmes.programme_id = programmes.programme_id
    left join windows
        on credited_programmes.programme_id = windows.programme_id

),

genre_counts as (

    select
        talent_id,
        role,
        genre,
        count(*) as programmes
    from track
    lateral view explode(genres) genre_list as genre
    group by talent_id, role, genre

),

genre_mix as (

    select
        talent_id,
        role,
        sort_array(collect_list(named_struct('programmes', -programmes, 'genre', genre))) as mix_sorted
    from genre_counts
    group by talent_id, role

),

summary as (

    select
        talent_id,
        role,
        count(*) as programmes,
        count_if(is_window_complete) as programmes_with_complete_28d,
        percentile(case when is_window_complete then views_28d end, 0.5) as median_views_28d,
        avg(case when is_window_complete then views_28d end) as mean_views_28d,
        sum(case when is_window_complete then completers_28d end) as completers_28d,
        sum(case when is_window_complete then starters_28d end) as starters_28d,
        max(release_date) as latest_release_date
    from track
    group by talent_id, role

),

final as (

    select
        summary.talent_id,
        talent.talent_name,
        summary.role,
        summary.programmes,
        summary.programmes_with_complete_28d,
        summary.median_views_28d,
        summary.mean_views_28d,
        {{ safe_divide('summary.completers_28d', 'summary.starters_28d') }} as completion_rate_28d,
        transform(
            genre_mix.mix_sorted,
            entry -> named_struct('genre', entry.genre, 'programmes', -entry.programmes)
        ) as genre_mix,
        summary.latest_release_date
    from summary
    left join talent
        on summary.talent_id = talent.talent_id
    left join genre_mix
        on summary.talent_id = genre_mix.talent_id
        and summary.role = genre_mix.role

)

select * from final
