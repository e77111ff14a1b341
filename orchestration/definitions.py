"""The one Dagster `Definitions` of klantkluis: ingest, transform (dbt), privacy and publish."""

from dagster import (AssetSelection, DagsterRunStatus, DefaultScheduleStatus, DefaultSensorStatus, Definitions, EnvVar,
                     RunRequest, RunsFilter, RunStatusSensorContext, ScheduleEvaluationContext, SkipReason,
                     define_asset_job, in_process_executor, run_status_sensor, schedule)
from dagster_dbt import DbtCliResource

from orchestration.alerts import alert_on_run_failure
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
from orchestration.resources import (NO_DAY, OLDEST, OLDEST_DAY_RUN, OLDEST_DAY_TAG, TAG_VALUES, THROUGH_TAG,
                                     KlantkluisResource, day_runs)
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
                "look-up indexes. Tags a launch may carry (a mistyped one stops the run at its first step): "
                + "; ".join(f"{tag}: {value}" for tag, value in TAG_VALUES.items()) + ".")


def _day_requests(context, klantkluis: KlantkluisResource, key: str = "") -> list[RunRequest] | SkipReason:
    """The runs of a catch-up (`day_runs`), less the days whose run still waits in the queue; run keys
    `key` + the day. When the ledger cannot be read (another process holds the warehouse, or
    sources.yml cannot be read), one run of the oldest pending day (OLDEST_DAY_RUN): never one run
    that takes every pending day, which would lose the earlier days' history from the snapshots."""
    try:
        runs = day_runs(klantkluis.paths)
    except (WarehouseBusy, LandingFileError) as exc:
        context.log.warning(f"Which landing days are pending is not known now ({exc}); one run is requested with "
                            f"the tag {THROUGH_TAG}: {OLDEST}: it loads the oldest pending day only, and once it "
                            f"succeeded, the sensor {AFTER_OLDEST} requests the later days, each in its own run.")
        runs = [OLDEST_DAY_RUN]
    if days := [day for day, _ in runs if day]:
        queued = {run.tags[THROUGH_TAG] for run in context.instance.get_runs(RunsFilter(
            job_name=full_refresh.name, statuses=[DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED],
            tags={THROUGH_TAG: days}))}
        if not (runs := [(day, tags) for day, tags in runs if day not in queued]):
            return SkipReason(f"Every pending landing day ({', '.join(days)}) has a run waiting in the queue.")
    return [RunRequest(run_key=f"{key}{day or tags.get(THROUGH_TAG, '')}" or None, tags=tags) for day, tags in runs]


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
    Reads the load ledger read-only: when another process holds the warehouse at 02:00 (a
    `process-requests` from cron, a request run, a compaction), or sources.yml cannot be read, one
    run tagged `oldest` (see `_day_requests`); the later days then follow through the sensor
    `landing_days_after_oldest` as soon as it succeeded, not a day later at the next tick."""
    return _day_requests(context, klantkluis)


AFTER_OLDEST = "landing_days_after_oldest"


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, name=AFTER_OLDEST, monitored_jobs=[full_refresh],
                   request_job=full_refresh, default_status=DefaultSensorStatus.RUNNING,
                   description=f"After a full_refresh run tagged {THROUGH_TAG}: {OLDEST} (the 02:00 schedule's while "
                               "another process held the warehouse) loaded a day: the later pending days, one run "
                               "each, oldest first.")
def landing_days_after_oldest(context: RunStatusSensorContext, klantkluis: KlantkluisResource):
    """A run tagged `oldest` loads one day (the schedule could not read the ledger): once it succeeded,
    the rest of the catch-up as the schedule would have requested it (`_day_requests`, run keys
    scoped to that run), now that the ledger can be read again; if it still cannot, one more run of
    the oldest day, which in turn is followed up. Nothing after a run that found no day pending (the
    catch-up is done), nor after a failed one: the next tick takes it up, as `klantkluis run` stops at
    a failed day."""
    tags = context.dagster_run.tags
    if tags.get(THROUGH_TAG) != OLDEST:
        return SkipReason("Not a run of the oldest pending landing day: nothing to follow up.")
    if (day := tags.get(OLDEST_DAY_TAG, NO_DAY)) == NO_DAY:
        return SkipReason("The run found no landing day pending: nothing to follow up.")
    return _day_requests(context, klantkluis, key=f"after {context.dagster_run.run_id} ({day}): ")


defs = Definitions(
    assets=[*ingest_assets, build_retention_sweep([a.key for a in ingest_assets]), dbt_models, register_asset,
            build_publish_asset(dbt_models, register_asset.key), request_indexes],
    asset_checks=[published_retention_check],
    jobs=[full_refresh, retention_job, *request_jobs],
    sensors=[request_sensor, landing_days_after_oldest, alert_on_run_failure],
    schedules=[full_refresh_schedule, retention_schedule],
    loggers={"console": console_logger},
    executor=in_process_executor,  # DuckDB allows one writing process: steps run one after another
    resources={
        "klantkluis": KlantkluisResource(home=EnvVar("KLANTKLUIS_HOME")),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    },
)
