{#- The orders analytics may use, up to `until`: not those kept only for the fiscal duty
    (anonymised: they belong to no one any more). -#}
{% macro analysed_orders(until) %}
    select *
    from {{ ref('stg_shop__orders') }}
    where order_date <= {{ date_of(until) }}
      and subject_id not like '{{ var("anonymised_prefix") }}%'
{% endmacro %}

{#- Whether `column` is a subject of the customer base (Art. 5(1)(b), (e)): once a CRM export is
    loaded, a customer with a current CRM record. A former customer whose CRM record its retention
    rule removed is no longer profiled (no segment, no score, no prediction), though the orders
    stay 7 years for the tax authority; so is one whose CRM row is quarantined or has not arrived
    yet. Without any CRM export (an order system alone) every customer with orders counts. -#}
{% macro in_customer_base(column) %}
    ({{ column }} in (select subject_id from {{ ref('stg_crm__customers') }})
     or not exists (select 1 from {{ ref('stg_crm__customers') }}))
{% endmacro %}
