-- NPS per pyramid tier and per RFM segment over the responses in the activity window; a segment
-- without responses has a null NPS (not 0).
with

responses as (

    select * from {{ ref('stg_survey__nps_responses') }}
    where responded_at <= cast('{{ as_of() }}' as {{ dbt.type_timestamp() }})
      and {{ dbt.datediff("responded_at", "cast('" ~ as_of() ~ "' as " ~ dbt.type_timestamp() ~ ")", "day") }}
          < {{ var('activity_window_days') }}

),

segments as (

    select 'pyramid_tier' as segmentation, subject_id, tier as segment from {{ ref('customer_pyramid') }}
    union all
    select 'rfm_segment' as segmentation, subject_id, segment from {{ ref('customer_rfm') }}

),

segment_list as (

    select distinct segmentation, segment from segments

),

scored as (

    select
        segments.segmentation,
        segments.segment,
        count(*) as responses,
        cast(sum(case when responses.score >= 9 then 1 else 0 end) as {{ dbt.type_bigint() }}) as promoters,
        cast(sum(case when responses.score <= 6 then 1 else 0 end) as {{ dbt.type_bigint() }}) as detractors
    from responses
    inner join segments on responses.subject_id = segments.subject_id
    group by segments.segmentation, segments.segment

)

select
    segment_list.segmentation,
    segment_list.segment,
    coalesce(scored.responses, 0) as responses,
    coalesce(scored.promoters, 0) as promoters,
    coalesce(scored.detractors, 0) as detractors,
    {{ nps('scored.promoters', 'scored.detractors', 'scored.responses') }} as nps
from segment_list
left join scored
    on segment_list.segmentation = scored.segmentation
    and segment_list.segment = scored.segment
