{#- A landing time (ISO 8601 text) as a timestamp in UTC, without time zone. A written offset
    ("Z", "+02:00", "+0200", "-05") is applied; a time without one is UTC already (the landing
    contract, docs/contracts.md). A plain cast would drop the offset on DuckDB: "10:00+02:00"
    would become 10:00, not 08:00, and sort after "09:00Z". The retention sweep reads raw times
    the same way (privacy/retention.py, _UTC_TEXT). Dispatched, so another engine can use its own:
    PostgreSQL's plain cast drops the offset too. -#}
{% macro utc_timestamp(column) -%}
    {{ return(adapter.dispatch('utc_timestamp')(column)) }}
{%- endmacro %}

{% macro default__utc_timestamp(column) -%}
    cast({{ column }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__utc_timestamp(column) -%}
    case when regexp_matches({{ column }}, '[T ]\d\d:\d\d(:\d\d(\.\d+)?)? ?(Z|[+-]\d\d(:?\d\d)?)$')
        then timezone('UTC', cast({{ column }} as timestamptz))
        else cast({{ column }} as timestamp) end
{%- endmacro %}

{% macro postgres__utc_timestamp(column) -%}
    case when {{ column }} ~ '[T ]\d\d:\d\d(:\d\d(\.\d+)?)? ?(Z|[+-]\d\d(:?\d\d)?)$'
        then cast({{ column }} as timestamptz) at time zone 'UTC'
        else cast({{ column }} as timestamp) end
{%- endmacro %}
