-- The Pareto share: revenue of the top share (var pareto_share_of_customers, 20%) of active
-- customers, at least the best one, as a share of all their revenue in the activity window.
-- Computed, never assumed 80%.
with

ranked as (

    select
        revenue_window,
        revenue_rank,
        count(*) over () as active_customers
    from {{ ref('customer_pyramid') }}
    where revenue_rank is not null

),

flagged as (

    select
        revenue_window,
        case when {{ within_top_share('revenue_rank', var('pareto_share_of_customers'), 'active_customers') }}
             then 1 else 0 end as is_top
    from ranked

),

totals as (

    select
        count(*) as active_customers,
        sum(revenue_window) as revenue_window,
        sum(case when is_top = 1 then revenue_window else 0 end) as top_revenue,
        cast(sum(is_top) as {{ dbt.type_bigint() }}) as top_customers
    from flagged

)

select
    active_customers,
    top_customers,
    cast({{ var('pareto_share_of_customers') }} as {{ type_double() }}) as top_share_of_customers,
    top_revenue,
    revenue_window,
    {{ ratio("top_revenue", "revenue_window") }} as pareto_share
from totals
