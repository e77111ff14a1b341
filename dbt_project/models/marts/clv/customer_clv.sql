-- Customer lifetime value: historical (revenue and margin to date) and predictive (BG/NBD
-- expected purchases and P(alive), Gamma-Gamma expected spend, discounted over the horizon).
with

orders as (

    select * from {{ ref('int_orders_aggregated_to_subjects') }}

),

predictions as (

    select * from {{ ref('int_clv_predictions') }}

)

select
    orders.subject_id,
    orders.orders,
    orders.first_order_date,
    orders.last_order_date,
    orders.revenue as historical_revenue,
    orders.margin as historical_margin,
    orders.margin / nullif(orders.revenue, 0) as margin_rate,
    predictions.expected_purchases,
    predictions.p_alive,
    predictions.expected_avg_spend,
    predictions.clv as predicted_revenue,
    predictions.clv * orders.margin / nullif(orders.revenue, 0) as predicted_margin,
    {{ var('clv_horizon_periods') }} * {{ var('clv_days_per_period') }} as horizon_days
from orders
left join predictions on orders.subject_id = predictions.subject_id
