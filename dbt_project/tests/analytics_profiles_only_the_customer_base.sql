-- Segmentation and CLV profile only the customer base (macro in_customer_base): once a CRM export
-- is loaded, every subject with a score or prediction has a CRM record, so a former customer whose
-- record its retention rule removed is no longer profiled, though the orders stay for the tax
-- authority and enter the CLV fit as statistics (Art. 5(1)(b), (e), 89(1)).
{{ config(meta={'dagster': {'ref': {'name': 'customer_rfm'}}}) }}
with

crm as (

    select subject_id from {{ ref('stg_crm__customers') }}

),

profiled as (

    select subject_id from {{ ref('customer_rfm') }}
    union all
    select subject_id from {{ ref('customer_clv') }}
    union all
    select subject_id from {{ ref('int_clv_predictions') }}

)

select profiled.subject_id
from profiled
where exists (select 1 from crm)
  and not exists (select 1 from crm where crm.subject_id = profiled.subject_id)
