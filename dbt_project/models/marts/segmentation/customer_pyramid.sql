-- Customer pyramid (klantenpiramide): active customers in tiers by revenue in the activity
-- window (top, large, medium, small; cut-offs are vars), then inactive and ex-customers,
-- prospects (contact, no order) and suspects (no contact). Every subject is in exactly one tier.
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

customer_base as (

    select
        customers.subject_id,
        'customer' as population,
        customers.status,
        coalesce(orders.orders, 0) as orders,
        coalesce(orders.revenue, 0) as revenue,
        coalesce(orders.revenue_window, 0) as revenue_window,
        customers.status = 'active' and coalesce(orders.orders_window, 0) > 0 as is_active
    from customers
    left join orders on customers.subject_id = orders.subject_id

),

ranked as (

    select
        *,
        case when is_active then
            row_number() over (
                partition by is_active order by revenue_window desc, subject_id
            )
        end as revenue_rank,
        sum(case when is_active then 1 else 0 end) over () as active_customers
    from customer_base

),

tiered as (

    select
        subject_id,
        population,
        orders,
        revenue,
        revenue_window,
        revenue_rank,
        case
            when is_active and {{ within_top_share('revenue_rank', var('pyramid_top_share'), 'active_customers') }}
                then 'top'
            when is_active and revenue_rank <= ({{ var('pyramid_top_share') }} + {{ var('pyramid_large_share') }})
                * active_customers then 'large'
            when is_active and revenue_rank <= ({{ var('pyramid_top_share') }} + {{ var('pyramid_large_share') }}
                + {{ var('pyramid_medium_share') }}) * active_customers then 'medium'
            when is_active then 'small'
            when orders > 0 or status = 'ended' then 'inactive'
            else 'prospect'
        end as tier
    from ranked

),

lead_tiers as (

    select
        subject_id,
        'lead' as population,
        0 as orders,
        0 as revenue,
        0 as revenue_window,
        cast(null as {{ dbt.type_int() }}) as revenue_rank,
        stage as tier
    from leads

)

select * from tiered
union all
select * from lead_tiers
