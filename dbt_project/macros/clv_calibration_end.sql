{#- The end of the CLV calibration period: var clv_calibration_end if set, else the build time as_of. -#}
{% macro clv_calibration_end() -%}
    {{- var('clv_calibration_end', none) or as_of() -}}
{%- endmacro %}
