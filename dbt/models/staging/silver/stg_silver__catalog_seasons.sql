with

source as (

    select * from {{ source('silver', 'catalog_seasons') }}

),

renamed as (

    select
        season_id,
        show_id,
        season_number,
        episode_count,
        season_runtime_s,
        season_release_date,
        valid_from,
        valid_to,
        is_current,
        {{ is_last_listing('season_id') }} as is_last_listing

    from source

)

select * from renamed
