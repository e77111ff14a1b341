-- NPS responses with the redacted comment; the original comment stays encrypted in the raw layer.
with

source as (

    select * from {{ source('survey', 'nps_responses') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by response_id
            order by _source_file desc, _source_line desc
        ) as response_rank
    from source

),

renamed as (

    select
        response_id,
        subject_id,
        {{ utc_timestamp('responded_at') }} as responded_at,
        cast(score as {{ dbt.type_int() }}) as score,
        comment_redacted
    from ranked
    where response_rank = 1

)

select * from renamed
