-- The (frequency, recency, T, monetary value) summary of Fader, Hardie & Lee (2005):
-- purchases on one day are one transaction; frequency = repeat purchase days; recency = last
-- minus first purchase; T = calibration end (clv_calibration_end, default as_of) minus first purchase, in periods of
-- clv_days_per_period days; monetary value = mean of the repeat transactions (0 without repeats).
-- Every customer with orders is summarised, former ones too: the models are fitted on the whole
-- history, as statistics (pseudonymous, parameters only: Art. 89(1)), since leaving out the
-- customers who left would make everyone look more loyal; only the customer base
-- (in_customer_base) gets a prediction.
with

daily as (

    select
        subject_id,
        order_date,
        sum(amount) as amount
    from ({{ analysed_orders(clv_calibration_end()) }}) as orders
    group by subject_id, order_date

),

numbered as (

    select
        *,
        row_number() over (partition by subject_id order by order_date) as purchase_number
    from daily

),

summarised as (

    select
        subject_id,
        count(*) - 1 as frequency,
        {{ ratio(dbt.datediff("min(order_date)", "max(order_date)", "day"), var('clv_days_per_period')) }} as recency,
        {{ ratio(dbt.datediff("min(order_date)", date_of(clv_calibration_end()), "day"),
                 var('clv_days_per_period')) }} as t,
        coalesce({{ ratio("sum(case when purchase_number > 1 then amount end)", "count(*) - 1") }}, 0) as monetary_value
    from numbered
    group by subject_id

)

select
    *,
    {{ in_customer_base('summarised.subject_id') }} as in_customer_base
from summarised
