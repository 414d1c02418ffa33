with

source as (

    select * from {{ source('silver', 'catalog_availability') }}

),

renamed as (

    select
        title_id,
        country,
        valid_from,
        valid_to,
        is_current

    from source

)

select * from renamed
