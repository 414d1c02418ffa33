with

source as (

    select * from {{ source('silver', 'catalog_credits') }}

),

renamed as (

    select
        title_id,
        talent_id,
        role,
        billing_order,
        valid_from,
        valid_to,
        is_current,
        {{ is_last_listing('title_id') }} as is_last_listing

    from source

)

select * from renamed
