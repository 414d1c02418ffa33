with

source as (

    select * from {{ source('silver', 'catalog_talent') }}

),

renamed as (

    select
        talent_id,
        name as talent_name,
        valid_from,
        valid_to,
        is_current,
        {{ is_last_listing('talent_id') }} as is_last_listing

    from source

)

select * from renamed
