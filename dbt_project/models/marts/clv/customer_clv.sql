-- Customer lifetime value: historical (revenue and margin to date) and predictive (BG/NBD
-- expected purchases and P(alive), Gamma-Gamma expected spend, discounted over the horizon).
-- The models see only purchases; a relationship that has ended (CRM status 'ended') has no
-- future purchases: prediction 0. Only the customer base is here (macro in_customer_base); without
-- any CRM export (an order system alone) the relationship is unknown and the models' P(alive) stands.
with

orders as (

    select * from {{ ref('int_orders_aggregated_to_subjects') }}

),

predictions as (

    select * from {{ ref('int_clv_predictions') }}

),

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

relationships as (

    select
        orders.subject_id,
        coalesce(customers.status, 'unknown') as relationship,
        case
            when customers.status = 'active' then 1.0
            when customers.subject_id is null and not exists (select 1 from customers) then 1.0
            else 0.0
        end as ongoing
    from orders
    left join customers on orders.subject_id = customers.subject_id

)

select
    orders.subject_id,
    orders.orders,
    orders.first_order_date,
    orders.last_order_date,
    orders.revenue as historical_revenue,
    orders.margin as historical_margin,
    {{ ratio("orders.margin", "orders.revenue_with_margin") }} as margin_rate,  -- of the orders with a margin
    relationships.relationship,
    predictions.expected_purchases * relationships.ongoing as expected_purchases,
    predictions.p_alive * relationships.ongoing as p_alive,
    {#- money in cents, as the historical amounts: a BI tool shows a currency, not a float -#}
    {{ round_money('predictions.expected_avg_spend') }} as expected_avg_spend,
    {{ round_money('predictions.clv * relationships.ongoing') }} as predicted_revenue,
    {{ round_money(ratio("predictions.clv * relationships.ongoing * orders.margin", "orders.revenue_with_margin")) }}
        as predicted_margin,
    {{ var('clv_horizon_periods') }} * {{ var('clv_days_per_period') }} as horizon_days
from orders
inner join relationships on orders.subject_id = relationships.subject_id
left join predictions on orders.subject_id = predictions.subject_id
