"""The one Dagster resource: where the installation lives, and the privacy services built from it."""

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import ConfigurableResource, Failure, OpExecutionContext, RetryRequested, get_dagster_logger

from orchestration.ingest.quarantine import MAX_QUARANTINE_SHARE
from orchestration.ingest.reader import ReadAs
from orchestration.ingest.sources import landing_day, pending_days, read_as, source_files
from orchestration.settings import Paths, WarehouseBusy, connect_duckdb

AS_OF_TAG = "klantkluis/as_of"
DBT_VARS_TAG = "klantkluis/dbt_vars"  # JSON object of dbt vars for the run (cut-offs, CLV horizon, ...)
THROUGH_TAG = "klantkluis/through_day"  # load only landing files named up to this day (catch-up runs)
RELOAD_TAG = "klantkluis/reload"  # "all": load every landing file again, unchanged ones too (after a fix to a
# rule or a column mapping; each file's rows are replaced, so counts do not double)
SIMULATE_TAG = "klantkluis/simulate"  # "true": allow an as_of more than a day ahead (`klantkluis run --simulate`)


def day_runs(paths: Paths) -> list[tuple[str | None, dict[str, str]]]:
    """How a catch-up is split into runs, as (landing day, tags) in the order to run them: one run per
    pending landing day, oldest first, tagged THROUGH_TAG with its day, so each run loads the files
    named up to its day and the snapshots record every day's state; one run without the tag when no
    day is pending (retention, requests and the rebuild run daily all the same). `klantkluis run`
    and the daily full_refresh schedule both split this way. Reads the load ledger read-only
    (WarehouseBusy while another process holds the warehouse)."""
    return [(day, {THROUGH_TAG: day}) for day in pending_days(paths)] or [(None, {})]


def ahead_of_now(as_of: datetime | None) -> str | None:
    """Why a run at `as_of` must be marked as a simulation: more than a day ahead of now, its
    retention sweep would delete for real what is past its rule at that time (Art. 5(1)(e) applied
    early: rows, landing files, keys), and every later run at the real time would be refused as
    going back in time. None when it need not be."""
    now = datetime.now(timezone.utc)
    if as_of is None or as_of <= now + timedelta(days=1):
        return None
    return (f"--as-of {as_of.isoformat()} is {(as_of - now).days} day(s) ahead of now: the run would apply the "
            "retention rules at that time for real (rows and landing files past them deleted), and later runs "
            "at the real time would be refused. To simulate time, use an installation of its own "
            f"(`klantkluis --home data/sim demo`) and add --simulate (from the UI: the tag {SIMULATE_TAG}: true)")


def run_time(context: OpExecutionContext) -> datetime:
    """The run's notion of now (UTC): the `klantkluis/as_of` tag (to simulate time), else the run's
    creation. Failure for a tag more than a day ahead without `klantkluis/simulate` (see `ahead_of_now`)."""
    tag = context.run.tags.get(AS_OF_TAG)
    if tag:
        moment = datetime.fromisoformat(tag)
        moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        if context.run.tags.get(SIMULATE_TAG) != "true" and (problem := ahead_of_now(moment)):
            raise Failure(problem)  # a run from the UI with a mistyped year: no step acts on it
        return moment
    record = context.instance.get_run_record_by_id(context.run.run_id)
    created = record.create_timestamp if record else datetime.now(timezone.utc)
    return created.astimezone(timezone.utc).replace(microsecond=0)


class KlantkluisResource(ConfigurableResource):
    """Paths of the installation (KLANTKLUIS_HOME) and access to the warehouse and privacy services."""

    home: str
    key_dir: str = ""
    max_quarantine_share: float = MAX_QUARANTINE_SHARE  # above this share of a file: stop (see passes_gate)
    busy_wait_seconds: int = 60  # a step that finds the warehouse held by another process tries again after this,
    busy_retries: int = 30  # at most this many times (half an hour at the default wait)

    @property
    def paths(self) -> Paths:
        return Paths.from_home(self.home, self.key_dir or None)

    @contextmanager
    def waiting_while_busy(self):
        """The step's work; while another process holds the warehouse (a `klantkluis` command, an
        erasure compacting it), Dagster runs the step again later instead of failing the run. The
        run queue keeps Dagster's own runs apart (dagster.yaml); this covers everything else."""
        try:
            yield
        except WarehouseBusy as exc:
            # Dagster reports the retry at DEBUG only: say it where `klantkluis run` and the UI show it.
            get_dagster_logger().info(f"{str(exc).split(': ', 1)[0]}; this step tries again in "
                                      f"{self.busy_wait_seconds} s (at most {self.busy_retries} times).")
            raise RetryRequested(max_retries=self.busy_retries, seconds_to_wait=self.busy_wait_seconds) from exc

    @contextmanager
    def connect(self, read_only: bool = False):
        """A warehouse connection, closed on exit: dbt cannot run while any connection is open.
        While another process holds the warehouse, the step is retried (`waiting_while_busy`)."""
        self.paths.home.mkdir(parents=True, exist_ok=True)
        with self.waiting_while_busy():
            con = connect_duckdb(self.paths.warehouse, read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    def ingest_context(self, now: datetime):
        from orchestration.ingest.context import IngestContext

        return IngestContext.open(self.paths, now)

    def landing_files(self, source: str, through: str | None = None) -> list[Path]:
        """The source's files (sources.yml `files`, else <home>/landing/<source>/): the date-named
        ones up to day `through`, and every file named otherwise."""
        return [p for p in source_files(self.paths, source)
                if through is None or (day := landing_day(p)) is None or day <= through]

    def read_as(self, source: str) -> ReadAs:
        """How the source's files are read: `columns` and `csv` of sources.yml."""
        return read_as(self.paths, source)
