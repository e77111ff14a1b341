-- Every customer in staging has a current snapshot version that agrees with it on every tracked
-- attribute (the snapshot's check_cols): a rectification (Art. 16), or an export that brings an
-- old value back, is a new version of the history, never a silent disagreement between layers.
{{ config(meta={'dagster': {'ref': {'name': 'snap_crm__customers'}}}) }}
{%- set tracked = [] -%}
{%- if execute -%}
    {%- set snapshot = graph.nodes.values() | selectattr('name', 'equalto', 'snap_crm__customers') | first -%}
    {%- set tracked = snapshot.config.check_cols -%}
{%- endif %}
select staged.subject_id
from {{ ref('stg_crm__customers') }} as staged
left join {{ ref('snap_crm__customers') }} as snap
    on snap.subject_id = staged.subject_id and snap.dbt_valid_to is null
where snap.subject_id is null
{%- for column in tracked %}
    or coalesce(cast(staged.{{ column }} as {{ dbt.type_string() }}), '~')
        <> coalesce(cast(snap.{{ column }} as {{ dbt.type_string() }}), '~')
{%- endfor %}
