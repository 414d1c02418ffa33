with

source as (

    select * from {{ source('silver', 'catalog_title_genres') }}

),

renamed as (

    select
        title_id,
        genre,
        valid_from,
        valid_to,
        is_current

    from source

)

select * from renamed
