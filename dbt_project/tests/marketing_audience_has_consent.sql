-- Everyone in the marketing audience has effective consent at as_of for a channel they are
-- flagged for, and a tier or segment only with effective consent for profiling (Art. 6(1)(a), 21).
{{ config(meta={'dagster': {'ref': {'name': 'marketing_audience'}}}) }}
with granted as (

    select subject_id, purpose
    from {{ ref('int_consents_resolved') }}
    where is_granted

)

select audience.subject_id
from {{ ref('marketing_audience') }} as audience
where (audience.may_email and audience.subject_id not in (select subject_id from granted where purpose = 'marketing_email'))
   or (audience.may_call and audience.subject_id not in (select subject_id from granted where purpose = 'telemarketing'))
   or ((audience.tier is not null or audience.segment is not null)
       and audience.subject_id not in (select subject_id from granted where purpose = 'profiling'))
   or not (audience.may_email or audience.may_call)
