{#- Whether a rank (1 = best) is within the top `share` of `population` ranked rows: the first
    share * population, and always the first one, so a population smaller than 1 / share still
    has a top (customer pyramid, Pareto share). -#}
{% macro within_top_share(rank, share, population) -%}
    ({{ rank }} = 1 or {{ rank }} <= {{ share }} * {{ population }})
{%- endmacro %}
