-- Consent given and withdrawn, one row per event (Art. 7(1): the controller can show consent).
with

source as (

    select * from {{ source('crm', 'consent_events') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by _source_file desc, _source_line desc
        ) as event_rank
    from source

),

renamed as (

    select
        event_id,
        subject_id,
        purpose,
        action,
        {{ utc_timestamp('occurred_at') }} as occurred_at,
        notice_version,
        channel
    from ranked
    where event_rank = 1

)

select * from renamed
