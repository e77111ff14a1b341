-- Segmentation and CLV profile only the customer base (macro analysed_orders): once a CRM export
-- is loaded, every subject they hold has a CRM record, so a former customer whose record its
-- retention rule removed is no longer profiled, though the orders stay for the tax authority
-- (Art. 5(1)(b), (e)).
{{ config(meta={'dagster': {'ref': {'name': 'customer_rfm'}}}) }}
with

crm as (

    select subject_id from {{ ref('stg_crm__customers') }}

),

profiled as (

    select subject_id from {{ ref('customer_rfm') }}
    union all
    select subject_id from {{ ref('customer_clv') }}

)

select profiled.subject_id
from profiled
where exists (select 1 from crm)
  and profiled.subject_id not in (select subject_id from crm)
