-- NPS per period (var nps_period): promoters score 9-10, passives 7-8, detractors 0-6;
-- NPS = % promoters - % detractors, from -100 to +100. Periods follow the business's calendar (var
-- time_zone), not UTC. A period is complete once it has ended by as_of, unless it is the earliest
-- one and its data begins after its first day (retention has removed its start, or collection
-- began within it).
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

)

select
    period_start,
    '{{ var("nps_period") }}' as period,
    responses,
    promoters,
    passives,
    detractors,
    nps,
    {{ dbt.dateadd(var('nps_period'), 1, 'period_start') }}
        <= {{ local_timestamp("cast('" ~ as_of() ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
        and not (period_start = min(period_start) over () and first_response > period_start) as is_complete
from periods
