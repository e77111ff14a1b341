-- Prospects and suspects: the latest row per lead.
with

source as (

    select * from {{ source('crm', 'leads') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by subject_id
            order by _source_file desc, _source_line desc
        ) as export_rank
    from source

),

renamed as (

    select
        subject_id,
        stage,
        lead_source,
        cast(created_at as date) as created_at,
        cast(last_contact_at as date) as last_contact_at
    from ranked
    where export_rank = 1

)

select * from renamed
