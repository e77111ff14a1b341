-- Relationship cycle (klantrelatiecyclus), one stage per subject:
--   potential   - a lead (suspect or prospect), or a CRM customer without any order yet;
--   new         - first order less than new_customer_days ago, or fewer than loyal_min_orders orders,
--                 and still active;
--   loyal       - active, at least loyal_min_orders orders, first order new_customer_days or more ago;
--   ex_customer - the relationship ended (detail ended), or no order within activity_window_days
--                 while the CRM still has it active (detail lapsed).
with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

orders as (

    select * from {{ ref('int_orders_aggregated_to_subjects') }}

),

leads as (

    select * from {{ ref('stg_crm__leads') }}

),

measured as (

    select
        customers.subject_id,
        customers.status,
        coalesce(orders.orders, 0) as orders,
        coalesce(orders.orders_window, 0) as orders_window,
        orders.first_order_date,
        orders.last_order_date,
        {{ dbt.datediff("orders.first_order_date", date_of(as_of()), "day") }}
            as days_since_first_order
    from customers
    left join orders on customers.subject_id = orders.subject_id

),

staged as (

    select
        subject_id,
        case
            when orders = 0 and status = 'active' then 'potential'
            when status = 'ended' or orders_window = 0 then 'ex_customer'
            when days_since_first_order < {{ var('new_customer_days') }}
                 or orders < {{ var('loyal_min_orders') }} then 'new'
            else 'loyal'
        end as stage,
        case
            when orders = 0 and status = 'active' then 'customer_without_orders'
            when status = 'active' and orders_window = 0 then 'lapsed'
            else status
        end as detail,
        orders,
        first_order_date,
        last_order_date
    from measured

),

lead_stages as (

    select
        subject_id,
        'potential' as stage,
        stage as detail,
        0 as orders,
        cast(null as date) as first_order_date,
        cast(null as date) as last_order_date
    from leads

)

select * from staged
union all
select * from lead_stages
