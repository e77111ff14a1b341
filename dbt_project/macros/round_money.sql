{#- A float amount (a CLV prediction) in euros and cents, as type_money: what a BI tool shows as a
    currency. Dispatched: PostgreSQL has no round(double precision, integer), so it rounds a numeric
    (half away from zero, on the float's 15 significant digits). -#}
{% macro round_money(amount) -%}
    {{ return(adapter.dispatch('round_money')(amount)) }}
{%- endmacro %}

{% macro default__round_money(amount) -%}
    cast(round({{ amount }}, 2) as {{ type_money() }})
{%- endmacro %}

{% macro postgres__round_money(amount) -%}
    cast(round(cast({{ amount }} as numeric), 2) as {{ type_money() }})
{%- endmacro %}
