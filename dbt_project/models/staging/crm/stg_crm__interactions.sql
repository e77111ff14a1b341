-- Contact moments with their redacted text; the original text stays encrypted in the raw layer.
with

source as (

    select * from {{ source('crm', 'interactions') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by interaction_id
            order by _source_file desc, _source_line desc
        ) as interaction_rank
    from source

),

renamed as (

    select
        interaction_id,
        subject_id,
        channel,
        direction,
        language,
        {{ utc_timestamp('occurred_at') }} as occurred_at,
        text_redacted
    from ranked
    where interaction_rank = 1

)

select * from renamed
