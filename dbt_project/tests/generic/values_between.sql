{% test values_between(model, column_name, min_value, max_value=none) %}
-- Rows whose value lies outside [min_value, max_value] (max_value none: no upper bound). A null
-- passes: not_null says whether one is allowed.
select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }}
{%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
{% endtest %}
