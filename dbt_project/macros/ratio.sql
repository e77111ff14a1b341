{#- numerator / denominator as a float, null when the denominator is 0 or null. Engines type a
    division differently: DuckDB and Spark give a double, Trino keeps the larger decimal scale of
    the two (10 / (7 * 1.0) is 1.4 there). Cast first, the answer is the same everywhere. -#}
{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / nullif(cast({{ denominator }} as {{ type_double() }}), 0)
{%- endmacro %}
