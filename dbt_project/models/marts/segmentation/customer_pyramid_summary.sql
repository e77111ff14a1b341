-- Subjects and revenue per pyramid tier, with each tier's share.
with

pyramid as (

    select * from {{ ref('customer_pyramid') }}

),

tiers as (

    select * from {{ ref('pyramid_tiers') }}

),

per_tier as (

    select
        tier,
        count(*) as subjects,
        sum(revenue_window) as revenue_window
    from pyramid
    group by tier

)

select
    tiers.tier,
    tiers.tier_order,
    coalesce(per_tier.subjects, 0) as subjects,
    coalesce(per_tier.revenue_window, 0) as revenue_window,
    {{ ratio("coalesce(per_tier.subjects, 0)", "sum(per_tier.subjects) over ()") }} as share_of_subjects,
    {{ ratio("coalesce(per_tier.revenue_window, 0)", "sum(per_tier.revenue_window) over ()") }} as share_of_revenue
from tiers
left join per_tier on tiers.tier = per_tier.tier
