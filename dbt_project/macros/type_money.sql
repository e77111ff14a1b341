{#- Euro amounts: ingest accepts at most two decimals (expectations/formats.py AMOUNT), so
    decimal(18, 2) holds every loaded value exactly. dbt.type_numeric() is numeric(28, 6) on
    DuckDB, a 128-bit decimal that made the order models about eight times slower at 10 M orders
    (issue 8). Dispatched, so another engine can name its own type. -#}
{% macro type_money() -%}
    {{ return(adapter.dispatch('type_money')()) }}
{%- endmacro %}

{% macro default__type_money() -%}
    decimal(18, 2)
{%- endmacro %}
