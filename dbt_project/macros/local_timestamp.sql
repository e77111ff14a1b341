{#- A UTC timestamp (as every time in staging is, macro utc_timestamp) on the business's own
    clock, var time_zone: the calendar its reports are read in, so a response at 00:30 on
    1 January in Amsterdam counts in January, not in December. Dispatched: DuckDB converts with
    ICU, PostgreSQL with at time zone; the default is convert_timezone (Snowflake, Redshift,
    Databricks). -#}
{% macro local_timestamp(column) -%}
    {{ return(adapter.dispatch('local_timestamp')(column)) }}
{%- endmacro %}

{% macro default__local_timestamp(column) -%}
    convert_timezone('UTC', '{{ var("time_zone") }}', {{ column }})
{%- endmacro %}

{% macro duckdb__local_timestamp(column) -%}
    timezone('{{ var("time_zone") }}', timezone('UTC', {{ column }}))
{%- endmacro %}

{% macro postgres__local_timestamp(column) -%}
    ({{ column }} at time zone 'UTC') at time zone '{{ var("time_zone") }}'
{%- endmacro %}
