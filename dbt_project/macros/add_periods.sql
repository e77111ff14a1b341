{#- `date` plus `periods` times one `period` (day, week, month, quarter, year: such as var
    nps_period), through dbt.dateadd, with a quarter as three months: PostgreSQL has no quarter
    interval (dbt.dateadd writes interval '1 quarter' there, which it refuses). -#}
{% macro add_periods(period, periods, date) -%}
    {%- if period == 'quarter' -%}
        {{ dbt.dateadd('month', '3 * (' ~ periods ~ ')', date) }}
    {%- else -%}
        {{ dbt.dateadd(period, periods, date) }}
    {%- endif -%}
{%- endmacro %}
