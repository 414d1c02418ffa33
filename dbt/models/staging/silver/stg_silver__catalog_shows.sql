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
        is_current,
        {{ is_last_listing('show_id') }} as is_last_listing

    from source

)

select * from renamed
