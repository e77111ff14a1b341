{% test values_between(model, column_name, min_value=none, max_value=none) %}
-- Rows whose value lies outside [min_value, max_value] (a bound that is none: no bound on that
-- side). A null passes: not_null says whether one is allowed.
{%- set outside = [] %}
{%- if min_value is not none %}{% do outside.append(column_name ~ ' < ' ~ min_value) %}{% endif %}
{%- if max_value is not none %}{% do outside.append(column_name ~ ' > ' ~ max_value) %}{% endif %}
select *
from {{ model }}
where {{ outside | join(' or ') if outside else '1 = 0' }}
{% endtest %}
