-- One row per person credited on a title the catalogue has listed (as last listed), with
-- the roles they are credited in.
with

talent as (

    select * from {{ ref('stg_silver__catalog_talent') }}
    where is_last_listing

),

credits as (

    select * from {{ ref('stg_silver__catalog_credits') }}
    where is_last_listing

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

credited as (

    select
        credits.talent_id,
        array_sort(collect_set(credits.role)) as roles,
        count(distinct titles.programme_id) as programmes_credited
    from credits
    inner join titles
        on credits.title_id = titles.title_id
    group by credits.talent_id

),

final as (

    select
        talent.talent_id,
        talent.talent_name,
        coalesce(credited.roles, array()) as roles,
        coalesce(credited.programmes_credited, 0) as programmes_credited
    from talent
    left join credited
        on talent.talent_id = credited.talent_id

)

select * from final
