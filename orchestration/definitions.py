"""The one Dagster `Definitions` of klantkluis: ingest, transform (dbt), privacy and publish."""

from dagster import AssetSelection, Definitions, EnvVar, ScheduleDefinition, define_asset_job, in_process_executor
from dagster_dbt import DbtCliResource

from orchestration.assets.dbt import dbt_models
from orchestration.assets.ingest import build_ingest_asset
from orchestration.assets.privacy import build_register_asset
from orchestration.assets.publish import build_publish_asset
from orchestration.project import dbt_project
from orchestration.resources import KlantkluisResource
from orchestration.settings import DBT_PROJECT_DIR
from privacy.classification import load_classification

SOURCES = [t for t in load_classification(DBT_PROJECT_DIR).tables if t.layer == "source" and t.subject]

ingest_assets = [build_ingest_asset(t) for t in SOURCES]
register_asset = build_register_asset(list(dbt_models.keys))

full_refresh = define_asset_job(
    "full_refresh", selection=AssetSelection.all(), description="Ingest every source, build all dbt models and snapshots, publish.")

defs = Definitions(
    assets=[*ingest_assets, dbt_models, register_asset, build_publish_asset(dbt_models, register_asset.key)],
    jobs=[full_refresh],
    schedules=[ScheduleDefinition(job=full_refresh, cron_schedule="0 2 * * *", execution_timezone="Europe/Amsterdam")],
    executor=in_process_executor,  # DuckDB allows one writing process: steps run one after another
    resources={
        "klantkluis": KlantkluisResource(home=EnvVar("KLANTKLUIS_HOME")),
        "dbt": DbtCliResource(project_dir=dbt_project),
    },
)
