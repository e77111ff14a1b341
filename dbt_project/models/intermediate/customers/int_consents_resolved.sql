-- Effective consent per subject and consent purpose at as_of: the latest event wins (Art. 7);
-- a withdrawal does not make earlier processing unlawful (Art. 7(3)), it stops it from now on.
-- A grant and a withdrawal at the same moment: the withdrawal wins (consent must be unambiguous,
-- Art. 4(11)); the event id only orders events of one action. A withdrawal or an objection by request
-- takes effect at once in this table (orchestration/requests/changes.py), and the next build derives the same.
with

events as (

    select * from {{ ref('stg_crm__consent_events') }}
    where occurred_at <= cast('{{ as_of() }}' as {{ dbt.type_timestamp() }})

),

ranked as (

    select
        *,
        row_number() over (
            partition by subject_id, purpose
            order by occurred_at desc, case when action = 'withdrawn' then 0 else 1 end, event_id desc
        ) as event_rank
    from events

),

resolved as (

    select
        subject_id,
        purpose,
        action = 'granted' as is_granted,
        occurred_at as decided_at,
        notice_version
    from ranked
    where event_rank = 1

)

select * from resolved
