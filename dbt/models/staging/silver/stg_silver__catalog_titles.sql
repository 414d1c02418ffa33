with

source as (

    select * from {{ source('silver', 'catalog_titles') }}

),

renamed as (

    select
        title_id,
        title_type,
        show_id,
        season_number,
        episode_number,
        title as title_name,
        runtime_s,
        release_date,
        original_language,
        origin_country,
        valid_from,
        valid_to,
        is_current,
        {{ is_last_listing('title_id') }} as is_last_listing

    from source

)

select * from renamed
