-- One row: the time every mart is measured from (as_of: recency, activity windows, CLV horizons)
-- and when they were built, both UTC. Published with the marts, so a BI tool can show how fresh
-- they are, and that a failed build left yesterday's copy in place.
select
    cast('{{ as_of() }}' as {{ dbt.type_timestamp() }}) as as_of,
    cast('{{ modules.datetime.datetime.now(modules.pytz.utc).strftime("%Y-%m-%d %H:%M:%S") }}'
         as {{ dbt.type_timestamp() }}) as built_at
