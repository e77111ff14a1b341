{#- A 64-bit float for ratios (macro ratio). dbt.type_float() is "float", which is 32 bits on DuckDB
    and Spark (a share of 0.6581005 instead of 0.658100490203) and 64 bits elsewhere. Dispatched,
    so each engine names its own type. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}

{% macro bigquery__type_double() -%}
    float64
{%- endmacro %}
