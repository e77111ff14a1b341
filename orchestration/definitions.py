"""The one Dagster `Definitions` of klantkluis: ingest, transform (dbt), privacy and publish."""

from dagster import (AssetSelection, DefaultScheduleStatus, Definitions, EnvVar, ScheduleDefinition, define_asset_job,
                     in_process_executor)
from dagster_dbt import DbtCliResource

from orchestration.assets.dbt import dbt_models
from orchestration.assets.ingest import build_ingest_asset
from orchestration.assets.privacy import build_register_asset
from orchestration.assets.publish import build_publish_asset
from orchestration.assets.requests import request_indexes, request_jobs, request_sensor
from orchestration.console import console_logger
from orchestration.assets.retention import (PUBLISHED_KEY, build_retention_job, build_retention_sweep,
                                           published_retention_check)
from orchestration.project import dbt_project
from orchestration.resources import KlantkluisResource
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, TIME_ZONE
from privacy.classification import load_classification

SOURCES = [t for t in load_classification(DBT_PROJECT_DIR).tables if t.layer == "source" and t.subject]

ingest_assets = [build_ingest_asset(t) for t in SOURCES]
register_asset = build_register_asset(list(dbt_models.keys))
retention_job, retention_schedule = build_retention_job(dbt_models, register_asset.key, PUBLISHED_KEY)

full_refresh = define_asset_job(
    "full_refresh", selection=AssetSelection.all(),
    description="Everything, in order: ingest every source, sweep what is past retention, build every dbt model, "
                "snapshot and test, generate the register (Art. 30), publish the BI copies, refresh the request "
                "look-up indexes.")

defs = Definitions(
    assets=[*ingest_assets, build_retention_sweep([a.key for a in ingest_assets]), dbt_models, register_asset,
            build_publish_asset(dbt_models, register_asset.key), request_indexes],
    asset_checks=[published_retention_check],
    jobs=[full_refresh, retention_job, *request_jobs],
    sensors=[request_sensor],
    schedules=[ScheduleDefinition(job=full_refresh, cron_schedule="0 2 * * *", execution_timezone=TIME_ZONE,
                                  default_status=DefaultScheduleStatus.RUNNING,
                                  description="The daily run at 02:00: new landing files in, retention swept, "
                                              "marts rebuilt and published. On from the start (the Dagster "
                                              "daemon runs it)."),
               retention_schedule],
    loggers={"console": console_logger},
    executor=in_process_executor,  # DuckDB allows one writing process: steps run one after another
    resources={
        "klantkluis": KlantkluisResource(home=EnvVar("KLANTKLUIS_HOME")),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    },
)
