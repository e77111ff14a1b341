{#- The date of a time given as text ('2026-11-02 12:00:00', such as as_of()), as a date literal.
    Engines differ on casting text with a time of day to a date (Trino refuses it): only the
    date part is cast. -#}
{% macro date_of(text) -%}
    cast('{{ (text | string)[:10] }}' as date)
{%- endmacro %}
