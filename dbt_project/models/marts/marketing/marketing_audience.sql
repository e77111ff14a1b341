-- Who may be approached with offers (direct marketing, Art. 6(1)(a)): only subjects with effective
-- consent at as_of for e-mail or telephone marketing. Their pyramid tier and RFM segment, which
-- personalise the offer, only with effective consent for profiling too (consent purpose
-- 'profiling', Art. 6(1)(a); an objection under Art. 21(2) ends it); otherwise null. A withdrawal or an
-- objection takes effect at once in this table and its published copy (orchestration/requests/changes.py),
-- and the next build derives the same.
with

consents as (

    select * from {{ ref('int_consents_resolved') }}
    where is_granted

),

permissions as (

    select
        subject_id,
        max(case when purpose = 'marketing_email' then 1 else 0 end) = 1 as may_email,
        max(case when purpose = 'telemarketing' then 1 else 0 end) = 1 as may_call,
        max(case when purpose = 'profiling' then 1 else 0 end) = 1 as may_profile
    from consents
    where purpose in ('marketing_email', 'telemarketing', 'profiling')
    group by subject_id

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

pyramid as (

    select * from {{ ref('customer_pyramid') }}

)

select
    permissions.subject_id,
    permissions.may_email,
    permissions.may_call,
    permissions.may_profile,
    case when permissions.may_profile then pyramid.tier end as tier,
    case when permissions.may_profile then rfm.segment end as segment
from permissions
inner join pyramid on permissions.subject_id = pyramid.subject_id
left join rfm on permissions.subject_id = rfm.subject_id
where permissions.may_email or permissions.may_call
