-- The Pareto share: revenue of the top share (var pareto_share_of_customers, 20%) of active
-- customers as a share of all their revenue in the activity window. Computed, never assumed 80%.
with

ranked as (

    select revenue_window, revenue_rank
    from {{ ref('customer_pyramid') }}
    where revenue_rank is not null

),

totals as (

    select
        count(*) as active_customers,
        sum(revenue_window) as revenue_window,
        sum(case when revenue_rank <= {{ var('pareto_share_of_customers') }} * (select count(*) from ranked)
                 then revenue_window else 0 end) as top_revenue,
        sum(case when revenue_rank <= {{ var('pareto_share_of_customers') }} * (select count(*) from ranked)
                 then 1 else 0 end) as top_customers
    from ranked

)

select
    active_customers,
    top_customers,
    {{ var('pareto_share_of_customers') }} as top_share_of_customers,
    top_revenue,
    revenue_window,
    top_revenue * 1.0 / nullif(revenue_window, 0) as pareto_share
from totals
