-- One row per genre in the current catalogue.
with

genres as (

    select * from {{ ref('stg_silver__catalog_title_genres') }}
    where is_current

),

titles as (

    select * from {{ ref('int_titles_joined') }}

),

final as (

    select
        genres.genre,
        count(distinct genres.title_id) as titles,
        count(distinct titles.programme_id) as programmes
    from genres
    inner join titles
        on genres.title_id = titles.title_id
    group by genres.genre

)

select * from final
