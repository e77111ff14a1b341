-- Who may be approached with personalised offers (direct marketing, Art. 6(1)(a)): only
-- subjects with effective consent at as_of for e-mail or telephone marketing; a withdrawal or an
-- objection (Art. 21(2)) removes the subject on the next build.
with

consents as (

    select * from {{ ref('int_consents_resolved') }}
    where is_granted

),

permissions as (

    select
        subject_id,
        max(case when purpose = 'marketing_email' then 1 else 0 end) = 1 as may_email,
        max(case when purpose = 'telemarketing' then 1 else 0 end) = 1 as may_call
    from consents
    where purpose in ('marketing_email', 'telemarketing')
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
    pyramid.tier,
    rfm.segment
from permissions
inner join pyramid on permissions.subject_id = pyramid.subject_id
left join rfm on permissions.subject_id = rfm.subject_id
