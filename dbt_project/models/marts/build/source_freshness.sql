-- One row per source: the time of its newest record and how many days it lies before as_of, the
-- time every mart is measured from. Recency, activity windows and CLV count from as_of, so a
-- source that stopped delivering makes its customers look inactive: the check
-- sources_deliver_on_time warns when a source in var source_max_age_days is older than allowed.
-- The consent events are left out: kept under a legal obligation (6(1)(c)) for consent and
-- objections, they are no data of the analytics purpose, and a quiet week of them is normal.
-- The orders are read where the marts read them (the customer base's, up to as_of): a table,
-- where the staging view would deduplicate 10 M orders again (4 s at 1 M customers).
{%- set newest_of = {
    'crm_customers': ('stg_crm__customers', 'exported_at'),
    'orders': ('int_orders_aggregated_to_subjects', 'cast(last_order_date as ' ~ dbt.type_timestamp() ~ ')'),
    'interactions': ('stg_crm__interactions', 'occurred_at'),
    'nps_responses': ('stg_survey__nps_responses', 'responded_at'),
    'leads': ('stg_crm__leads', 'cast(last_contact_at as ' ~ dbt.type_timestamp() ~ ')'),
} %}
{%- set unknown = var('source_max_age_days') | reject('in', newest_of) | list %}
{%- if unknown %}
    {{ exceptions.raise_compiler_error("var source_max_age_days names " ~ unknown | join(', ') ~
                                       ", which is no source here; the sources are " ~ newest_of | join(', ')) }}
{%- endif %}

with newest as (
    {%- for source, (model, column) in newest_of.items() %}
    select '{{ source }}' as source, max({{ column }}) as newest_record_at from {{ ref(model) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

allowed as (
    {%- for source, days in var('source_max_age_days').items() %}
    select '{{ source }}' as source, {{ days | int }} as max_age_days
    union all
    {%- endfor %}
    select cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_int() }}) where 1 = 0
)

select
    newest.source,
    newest.newest_record_at,
    {{ dbt.datediff("cast(newest.newest_record_at as date)", date_of(as_of()), "day") }} as days_before_as_of,
    allowed.max_age_days
from newest
left join allowed on allowed.source = newest.source
