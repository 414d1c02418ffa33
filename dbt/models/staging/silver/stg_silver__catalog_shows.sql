with

source as (

    select * from {{ source('silver', 'catalog_shows') }}

),

renamed as (

    select
        show_id,
        show_title,
        original_language,
        origin_country,
        valid_from,
        valid_to,
        is_current

    from source

)

select * from renamed
