-- Everyone in the marketing audience has effective consent at as_of for a channel they are
-- flagged for, and a tier or segment only with effective consent for profiling (Art. 6(1)(a), 21).
{{ config(meta={'dagster': {'ref': {'name': 'marketing_audience'}}}) }}
with granted as (

    select subject_id, purpose
    from {{ ref('int_consents_resolved') }}
    where is_granted

)

{%- set checks = [("audience.may_email", "marketing_email"), ("audience.may_call", "telemarketing"),
                  ("(audience.tier is not null or audience.segment is not null)", "profiling")] %}
select audience.subject_id
from {{ ref('marketing_audience') }} as audience
where not (audience.may_email or audience.may_call)
{%- for flagged, purpose in checks %}
   or ({{ flagged }} and not exists (
        select 1 from granted where granted.subject_id = audience.subject_id and granted.purpose = '{{ purpose }}'))
{%- endfor %}
