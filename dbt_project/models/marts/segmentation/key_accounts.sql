-- Key accounts: the top-valued active customers (top and large pyramid tiers), ranked by
-- predicted CLV then revenue in the window (ties by subject_id), at most key_account_max_rank,
-- with their account manager, share of revenue and trend against the prior window: new (first
-- order in the window), returning (older orders, none in the prior window), growing or declining.
with

pyramid as (

    select * from {{ ref('customer_pyramid') }}

),

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

clv as (

    select * from {{ ref('customer_clv') }}

),

orders as (

    select * from {{ ref('int_orders_aggregated_to_subjects') }}

),

candidates as (

    select
        pyramid.subject_id,
        pyramid.tier,
        customers.account_manager,
        orders.revenue_window,
        orders.revenue_prior_window,
        orders.first_order_date,
        coalesce(clv.predicted_revenue, 0) as predicted_revenue,
        row_number() over (
            order by coalesce(clv.predicted_revenue, 0) desc, orders.revenue_window desc, pyramid.subject_id
        ) as account_rank
    from pyramid
    inner join customers on pyramid.subject_id = customers.subject_id
    inner join orders on pyramid.subject_id = orders.subject_id
    left join clv on pyramid.subject_id = clv.subject_id
    where pyramid.tier in ('top', 'large')

),

total as (

    select sum(revenue_window) as revenue_window from orders

)

select
    candidates.subject_id,
    candidates.account_rank,
    candidates.tier,
    candidates.account_manager,
    candidates.revenue_window,
    {{ ratio("candidates.revenue_window", "total.revenue_window") }} as share_of_revenue,
    candidates.revenue_prior_window,
    candidates.revenue_window - candidates.revenue_prior_window as revenue_trend,
    case
        when candidates.revenue_prior_window = 0
             and {{ dbt.datediff("candidates.first_order_date", date_of(as_of()), "day") }}
                 < {{ var('activity_window_days') }} then 'new'
        when candidates.revenue_prior_window = 0 then 'returning'
        when candidates.revenue_window >= candidates.revenue_prior_window then 'growing'
        else 'declining'
    end as trend,
    candidates.predicted_revenue
from candidates
cross join total
where candidates.account_rank <= {{ var('key_account_max_rank') }}
