-- RFM: recency, frequency and monetary quintiles (5 = best) among the customer base's customers with orders, ties
-- broken by subject_id so every engine gives the same scores; the segment comes from the seed
-- rfm_segments by R score and the mean of the F and M scores.
with

orders as (

    select * from {{ ref('int_orders_aggregated_to_subjects') }}

),

segments as (

    select * from {{ ref('rfm_segments') }}

),

measured as (

    select
        subject_id,
        {{ dbt.datediff("last_order_date", date_of(as_of()), "day") }} as recency_days,
        orders as frequency,
        revenue as monetary
    from orders

),

scored as (

    select
        *,
        ntile(5) over (order by recency_days desc, subject_id) as r_score,
        ntile(5) over (order by frequency, subject_id) as f_score,
        ntile(5) over (order by monetary, subject_id) as m_score
    from measured

),

combined as (

    select
        *,
        {{ ratio("f_score + m_score", 2) }} as fm_score
    from scored

)

select
    combined.subject_id,
    combined.recency_days,
    combined.frequency,
    combined.monetary,
    combined.r_score,
    combined.f_score,
    combined.m_score,
    {{ dbt.concat(["cast(combined.r_score as " ~ dbt.type_string() ~ ")",
                   "cast(combined.f_score as " ~ dbt.type_string() ~ ")",
                   "cast(combined.m_score as " ~ dbt.type_string() ~ ")"]) }} as rfm_code,
    segments.segment
from combined
left join segments
    on combined.r_score between segments.r_min and segments.r_max
    and combined.fm_score between segments.fm_min and segments.fm_max
