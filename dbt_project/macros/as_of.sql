{#- The build time for recency, consent, retention and CLV: the environment variable
    KLANTKLUIS_AS_OF, which the orchestration sets per run, else the var as_of (dbt_project.yml,
    or --vars by hand). An environment variable, not --vars: a new var value makes dbt parse the
    whole project again (5 s), a changed environment variable only the files that read it. -#}
{% macro as_of() %}{{ return(env_var('KLANTKLUIS_AS_OF', var('as_of'))) }}{% endmacro %}
