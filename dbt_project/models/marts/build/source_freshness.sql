-- One row per source: the time of its newest record and how many days it lies before as_of, the
-- time every mart is measured from. Recency, activity windows and CLV count from as_of, so a
-- source that stopped delivering makes its customers look inactive: the check
-- sources_deliver_on_time warns when a source in var source_max_age_days is older than allowed.
-- The consent events are left out: kept under a legal obligation (6(1)(c)) for consent and
-- objections, they are no data of the analytics purpose, and a quiet week of them is normal.
with newest as (
    select 'crm_customers' as source, max(exported_at) as newest_record_at from {{ ref('stg_crm__customers') }}
    union all
    select 'orders', max(cast(order_date as {{ dbt.type_timestamp() }})) from {{ ref('stg_shop__orders') }}
    union all
    select 'interactions', max(occurred_at) from {{ ref('stg_crm__interactions') }}
    union all
    select 'nps_responses', max(responded_at) from {{ ref('stg_survey__nps_responses') }}
    union all
    select 'leads', max(cast(last_contact_at as {{ dbt.type_timestamp() }})) from {{ ref('stg_crm__leads') }}
),

allowed as (
    {%- for source, days in var('source_max_age_days').items() %}
    select '{{ source }}' as source, {{ days }} as max_age_days
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
)

select
    newest.source,
    newest.newest_record_at,
    {{ dbt.datediff("cast(newest.newest_record_at as date)", date_of(as_of()), "day") }} as days_before_as_of,
    allowed.max_age_days
from newest
left join allowed on allowed.source = newest.source
