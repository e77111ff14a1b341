-- NPS per period (var nps_period): promoters score 9-10, passives 7-8, detractors 0-6;
-- NPS = % promoters - % detractors, from -100 to +100. Periods follow the business's calendar (var
-- time_zone), not UTC. Every period from the first response's to as_of's has a row: one without
-- responses has 0 responses and a null NPS, so a chart shows the gap. A period is complete once it
-- has ended by as_of and the survey data reaches past its end (a response in a later period: an
-- export that lags as_of by a few days would otherwise report a quarter without its last days as
-- complete), unless it is the earliest one and its data begins after its first day (retention has
-- removed its start, or collection began within it).
{%- set local_now = local_timestamp("cast('" ~ as_of() ~ "' as " ~ dbt.type_timestamp() ~ ")") %}
with

responses as (

    select
        score,
        {{ local_timestamp('responded_at') }} as responded_local
    from {{ ref('stg_survey__nps_responses') }}
    where responded_at <= cast('{{ as_of() }}' as {{ dbt.type_timestamp() }})

),

classified as (

    select
        cast({{ dbt.date_trunc(var('nps_period'), 'responded_local') }} as date) as period_start,
        cast(responded_local as date) as responded_on,
        case when score >= 9 then 1 else 0 end as is_promoter,
        case when score between 7 and 8 then 1 else 0 end as is_passive,
        case when score <= 6 then 1 else 0 end as is_detractor
    from responses

),

periods as (

    select
        period_start,
        min(responded_on) as first_response,
        count(*) as responses,
        cast(sum(is_promoter) as {{ dbt.type_bigint() }}) as promoters,
        cast(sum(is_passive) as {{ dbt.type_bigint() }}) as passives,
        cast(sum(is_detractor) as {{ dbt.type_bigint() }}) as detractors,
        {{ nps('sum(is_promoter)', 'sum(is_detractor)', 'count(*)') }} as nps
    from classified
    group by period_start

),

digits as (

    {% for d in range(10) %}select {{ d }} as d{% if not loop.last %} union all {% endif %}{% endfor %}

),

steps as (  -- 0..999 periods after the first: 83 years of months

    select ones.d + 10 * tens.d + 100 * hundreds.d as n
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds

),

delivered as (  -- how far the survey data reaches (the newest response, in var time_zone)

    select max(responded_local) as newest_response from responses

),

spine as (

    select cast({{ add_periods(var('nps_period'), 'steps.n', 'bounds.first_period') }} as date) as period_start
    from (select min(period_start) as first_period from periods) as bounds
    cross join steps
    where {{ add_periods(var('nps_period'), 'steps.n', 'bounds.first_period') }} <= {{ local_now }}

)

select
    spine.period_start,
    '{{ var("nps_period") }}' as period,
    coalesce(periods.responses, 0) as responses,
    coalesce(periods.promoters, 0) as promoters,
    coalesce(periods.passives, 0) as passives,
    coalesce(periods.detractors, 0) as detractors,
    periods.nps,
    {{ add_periods(var('nps_period'), 1, 'spine.period_start') }} <= {{ local_now }}
        and {{ add_periods(var('nps_period'), 1, 'spine.period_start') }} <= delivered.newest_response
        and not (spine.period_start = min(spine.period_start) over ()
                 and periods.first_response > periods.period_start) as is_complete
from spine
cross join delivered
left join periods on spine.period_start = periods.period_start
