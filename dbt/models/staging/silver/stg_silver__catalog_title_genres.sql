with

source as (

    select * from {{ source('silver', 'catalog_title_genres') }}

),

renamed as (

    select
        title_id,
        genre,
        genre_rank,
        valid_from,
        valid_to,
        is_current,
        {{ is_last_listing('title_id') }} as is_last_listing

    from source

)

select * from renamed
