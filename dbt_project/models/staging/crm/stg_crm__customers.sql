-- The current state of each customer: the latest CRM export row per subject.
with

source as (

    select * from {{ source('crm', 'crm_customers') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by subject_id
            order by {{ utc_timestamp('exported_at') }} desc nulls last, _source_file desc, _source_line desc
        ) as export_rank
    from source

),

renamed as (

    select
        subject_id,
        age_band,
        gender,
        postcode_area,
        city,
        status,
        cast(customer_since as date) as customer_since,
        cast(relationship_end as date) as relationship_end,
        account_manager,
        {{ utc_timestamp('exported_at') }} as exported_at
    from ranked
    where export_rank = 1

)

select * from renamed
