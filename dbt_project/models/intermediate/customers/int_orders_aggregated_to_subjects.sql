-- Per subject of the customer base: order counts, revenue and margin to date, and in the last two
-- activity windows.
with

orders as (

    select * from ({{ analysed_orders(as_of()) }}) as analysed
    where {{ in_customer_base('analysed.subject_id') }}

),

windows as (

    select
        *,
        {{ dbt.datediff("order_date", date_of(as_of()), "day") }} as days_ago
    from orders

),

aggregated as (

    select
        subject_id,
        count(*) as orders,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        sum(amount) as revenue,
        sum(margin) as margin,
        sum(case when margin is not null then amount else 0 end) as revenue_with_margin,
        sum(case when days_ago < {{ var('activity_window_days') }} then amount else 0 end) as revenue_window,
        sum(case when days_ago >= {{ var('activity_window_days') }}
                  and days_ago < 2 * {{ var('activity_window_days') }} then amount else 0 end) as revenue_prior_window,
        sum(case when days_ago < {{ var('activity_window_days') }} then 1 else 0 end) as orders_window
    from windows
    group by subject_id

)

select * from aggregated
