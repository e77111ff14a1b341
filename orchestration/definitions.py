"""The one Dagster `Definitions` of klantkluis: ingest, transform (dbt), privacy and publish."""

from dagster import (AssetSelection, DagsterRunStatus, DefaultScheduleStatus, Definitions, EnvVar, RunRequest,
                     RunsFilter, ScheduleEvaluationContext, SkipReason, define_asset_job, in_process_executor, schedule)
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
from orchestration.ingest.reader import LandingFileError
from orchestration.resources import THROUGH_TAG, KlantkluisResource, day_runs
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, TIME_ZONE, WarehouseBusy
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


@schedule(job=full_refresh, cron_schedule="0 2 * * *", execution_timezone=TIME_ZONE,
          default_status=DefaultScheduleStatus.RUNNING,
          description="The daily run at 02:00: new landing files in, retention swept, marts rebuilt and published; "
                      "one run per pending landing day, oldest first, as `klantkluis run` does, so the snapshots "
                      "keep every day's state. On from the start (the Dagster daemon runs it).")
def full_refresh_schedule(context: ScheduleEvaluationContext, klantkluis: KlantkluisResource):
    """One RunRequest per pending landing day (`day_runs`), each tagged with its day; the run queue
    (max_concurrent_runs 1, first in first out) runs them one after another in that order. With no
    day pending, one run. A day whose run still waits in the queue (an earlier tick's, such as each
    missed tick the daemon catches up on after it was down) gets none; a started run is not counted,
    since one that was killed stays `STARTED` and its day would never be requested again. The run
    key (the day; Dagster keeps it per tick) keeps a tick evaluated again from launching a day twice.
    Reads the load ledger read-only: when another process holds the warehouse, or sources.yml cannot
    be read, one run without the tag all the same (its ingest steps warn if it takes several days)."""
    try:
        runs = day_runs(klantkluis.paths)
    except (WarehouseBusy, LandingFileError) as exc:
        context.log.warning(f"Which landing days are pending is not known now ({exc}); one run is requested "
                            f"without the tag {THROUGH_TAG}: it takes the files of every pending day at once.")
        runs = [(None, {})]
    if days := [day for day, _ in runs if day]:
        queued = {run.tags[THROUGH_TAG] for run in context.instance.get_runs(RunsFilter(
            job_name=full_refresh.name, statuses=[DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED],
            tags={THROUGH_TAG: days}))}
        if not (runs := [(day, tags) for day, tags in runs if day not in queued]):
            return SkipReason(f"Every pending landing day ({', '.join(days)}) has a run waiting in the queue.")
    return [RunRequest(run_key=day, tags=tags) for day, tags in runs]


defs = Definitions(
    assets=[*ingest_assets, build_retention_sweep([a.key for a in ingest_assets]), dbt_models, register_asset,
            build_publish_asset(dbt_models, register_asset.key), request_indexes],
    asset_checks=[published_retention_check],
    jobs=[full_refresh, retention_job, *request_jobs],
    sensors=[request_sensor],
    schedules=[full_refresh_schedule, retention_schedule],
    loggers={"console": console_logger},
    executor=in_process_executor,  # DuckDB allows one writing process: steps run one after another
    resources={
        "klantkluis": KlantkluisResource(home=EnvVar("KLANTKLUIS_HOME")),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    },
)
