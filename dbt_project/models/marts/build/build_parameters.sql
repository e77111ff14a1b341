-- One row per setting the marts were built with (the dbt vars in dbt_project.yml), with its value
-- as text and what it means, so a report read from the published copy can say what "active",
-- "top tier" or "loyal" meant for this build.
{%- set parameters = [
    ('activity_window_days', 'customer_pyramid, customer_pyramid_summary, pareto_share, customer_relationship_cycle, key_accounts, nps_by_segment: a customer without an order in this many days before as_of is inactive; revenue in the window (and the window before it, key_accounts) and NPS responses in it (nps_by_segment) count these days; customer_rfm does not use it'),
    ('pyramid_top_share', 'customer_pyramid: share of the active customers, ranked by revenue in the activity window, in the top tier'),
    ('pyramid_large_share', 'customer_pyramid: share of the active customers in the large tier, after the top tier'),
    ('pyramid_medium_share', 'customer_pyramid: share of the active customers in the medium tier, after the large tier; the rest are small'),
    ('pareto_share_of_customers', 'pareto_share: the top share of active customers whose share of revenue is reported'),
    ('new_customer_days', 'customer_relationship_cycle: a customer whose first order lies within this many days is new'),
    ('loyal_min_orders', 'customer_relationship_cycle: an active customer with at least this many orders is loyal'),
    ('nps_period', 'nps_by_period: the calendar period NPS is computed per'),
    ('time_zone', 'nps_by_period: the calendar the periods follow'),
    ('key_account_max_rank', 'key_accounts: at most this many customers, ranked by predicted CLV, then revenue'),
    ('clv_calibration_end', 'customer_clv: end of the order history the CLV models are fitted on (null: as_of)'),
    ('clv_days_per_period', 'customer_clv: days in one period of the CLV models'),
    ('clv_horizon_periods', 'customer_clv: periods ahead the CLV is predicted for'),
    ('clv_discount_rate_per_period', 'customer_clv: discount rate per period of the predicted CLV'),
    ('source_max_age_days', 'source_freshness: most days a source may lie before as_of without a run warning'),
] %}
{%- for name, meaning in parameters %}
select
    '{{ name }}' as parameter,
    {%- set value = var(name) %}
    {%- set text = value | tojson if value is mapping or (value is iterable and value is not string) else value | string %}
    {% if value is none %}cast(null as {{ dbt.type_string() }}){% else -%}
    cast({{ dbt.string_literal(text | replace("'", "''")) }} as {{ dbt.type_string() }}){% endif %} as value,
    cast('{{ meaning }}' as {{ dbt.type_string() }}) as meaning
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
