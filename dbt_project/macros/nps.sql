{#- Net Promoter Score from counts: 100 * (promoters - detractors) / responses; null without responses. -#}
{% macro nps(promoters, detractors, responses) -%}
    case when coalesce({{ responses }}, 0) = 0 then null
         else {{ ratio("100 * (" ~ promoters ~ " - " ~ detractors ~ ")", responses) }} end
{%- endmacro %}
