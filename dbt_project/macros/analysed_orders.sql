{#- The orders analytics may use, up to `until` (Art. 5(1)(b), (e)): not those kept only for the
    fiscal duty (anonymised), and only those of the customer base when a CRM export is loaded. A
    customer whose CRM record its retention rule removed is no longer profiled, though their
    orders stay 7 years for the tax authority; so segmentation and CLV count the same customers as
    the pyramid. Without any CRM export (an order system alone) every customer with orders counts. -#}
{% macro analysed_orders(until) %}
    select *
    from {{ ref('stg_shop__orders') }}
    where order_date <= cast('{{ until }}' as date)
      and subject_id not like '{{ var("anonymised_prefix") }}%'
      and (subject_id in (select subject_id from {{ ref('stg_crm__customers') }})
           or not exists (select 1 from {{ ref('stg_crm__customers') }}))
{% endmacro %}
