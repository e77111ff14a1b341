-- The pyramid summary accounts for every subject and every euro of the pyramid (its subjects and
-- revenue add up to the pyramid's), so its shares are shares of the whole pyramid.
{{ config(meta={'dagster': {'ref': {'name': 'customer_pyramid_summary'}}}) }}
with

summary as (

    select sum(subjects) as subjects, sum(revenue_window) as revenue
    from {{ ref('customer_pyramid_summary') }}

),

pyramid as (

    select count(*) as subjects, coalesce(sum(revenue_window), 0) as revenue
    from {{ ref('customer_pyramid') }}

)

select
    summary.subjects as summary_subjects,
    pyramid.subjects as pyramid_subjects,
    summary.revenue as summary_revenue,
    pyramid.revenue as pyramid_revenue
from summary
cross join pyramid
where summary.subjects <> pyramid.subjects
   or abs(summary.revenue - pyramid.revenue) > 0.005
