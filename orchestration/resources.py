"""The one Dagster resource: where the installation lives, and the privacy services built from it."""

import difflib
import json
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import yaml

from dagster import ConfigurableResource, Failure, OpExecutionContext, RetryRequested, get_dagster_logger

from orchestration.dbt_process import end_orphaned_dbt
from orchestration.ingest.quarantine import MAX_QUARANTINE_SHARE
from orchestration.ingest.reader import ReadAs
from orchestration.ingest.sources import landing_day, pending_days, read_as, source_files
from orchestration.settings import DBT_PROJECT_DIR, Paths, WarehouseBusy, connect_duckdb

AS_OF_TAG = "klantkluis/as_of"
DBT_VARS_TAG = "klantkluis/dbt_vars"  # JSON object of dbt vars for the run (cut-offs, CLV horizon, ...)
THROUGH_TAG = "klantkluis/through_day"  # load only landing files named up to this day (catch-up runs; OLDEST:
# the oldest pending one, see through_day)
RELOAD_TAG = "klantkluis/reload"  # "all": load every landing file again, unchanged ones too (after a fix to a
# rule or a column mapping; each file's rows are replaced, so counts do not double)
SIMULATE_TAG = "klantkluis/simulate"  # "true": allow an as_of more than a day ahead (`klantkluis run --simulate`)


OLDEST = "oldest"  # THROUGH_TAG value: the oldest pending landing day, decided once by the run itself
OLDEST_DAY_TAG = "klantkluis/oldest_day"  # the day a run tagged `oldest` decided on ("none": none was pending)
NO_DAY = "none"
COMMAND_LINE_TAG = "klantkluis/command_line"  # on the runs `klantkluis run` starts
REQUEST_TAG, TYPE_TAG = "klantkluis/request_id", "klantkluis/request_type"  # on a data subject request's run
KIND_TAG = "klantkluis/kind"  # on the request jobs
# What an operator may set when launching from the UI, and how: the value a tag must have.
TAG_VALUES = {AS_OF_TAG: "an ISO 8601 time: 2026-11-01, 2026-11-01 06:00:00 (UTC) or 2026-11-01T06:00:00+01:00",
              SIMULATE_TAG: "true", RELOAD_TAG: "all",
              THROUGH_TAG: f"a landing day as its files are named, 2026-11-01, or {OLDEST}",
              DBT_VARS_TAG: 'a JSON object of dbt vars of dbt_project.yml, such as {"activity_window_days": 180}'}
KNOWN_TAGS = {*TAG_VALUES, OLDEST_DAY_TAG, COMMAND_LINE_TAG, REQUEST_TAG, TYPE_TAG, KIND_TAG}


def tag_problems(tags: Mapping[str, str]) -> list[str]:
    """What is wrong with a run's `klantkluis/` tags, each with its fix: a value the tag does not take
    (`klantkluis/reload: yes`, a 25th hour in `klantkluis/as_of`), or a tag no step reads (a misspelt
    `klantkluis/as-of`). Launched from the UI, such a tag was ignored in silence (no reload, the run
    at the real time) or failed a step on a bare Python error, after the earlier steps had loaded."""
    problems = []
    for key, value in tags.items():
        if not key.startswith("klantkluis/") or key in KNOWN_TAGS - TAG_VALUES.keys():
            continue
        if key not in TAG_VALUES:
            near = difflib.get_close_matches(key, TAG_VALUES, n=1)
            problems.append(f"the tag {key} is none of klantkluis's, so no step would read it: "
                            + (f"did you mean {near[0]}? " if near else "")
                            + f"The tags a run takes: {', '.join(sorted(TAG_VALUES))}")
        elif (why := _tag_value_problem(key, value)) is not None:
            problems.append(f"the tag {key} has the value {value!r}{why}: write {TAG_VALUES[key]}, or leave it out")
    return problems


# dbt vars that the Python side shares, so a run may not set them otherwise (Art. 17, 5(1)(d)).
FIXED_DBT_VARS = {
    "anonymised_prefix": "orders kept anonymously after an erasure or the retention sweep carry "
                         "privacy.retention.ANONYMOUS_PREFIX, and the marts leave them out by it",
    "time_zone": "the schedules and the requests' letters keep the same calendar (LOCAL_TIME)",
}


def _tag_value_problem(key: str, value: str) -> str | None:
    """Why `value` is not one the tag `key` takes ('' when no more can be said), or None if it is one."""
    if key in (SIMULATE_TAG, RELOAD_TAG):
        return None if value == TAG_VALUES[key] else ""
    if key == THROUGH_TAG:
        if value == OLDEST:
            return None
        try:
            return None if date.fromisoformat(value).isoformat() == value else ""
        except ValueError as exc:
            return f" ({exc})"
    if key == AS_OF_TAG:
        try:
            datetime.fromisoformat(value)
            return None
        except ValueError as exc:
            return f" ({exc})"
    try:  # DBT_VARS_TAG
        given = json.loads(value)
    except ValueError as exc:
        return f" (not JSON: {exc})"
    if not isinstance(given, dict):
        return " (not a JSON object)"
    known = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    if unknown := sorted(set(given) - set(known)):
        return f" (no dbt var {', '.join(unknown)} in dbt_project.yml, so dbt would ignore it)"
    if fixed := sorted(set(given) & set(FIXED_DBT_VARS)):
        return f" ({'; '.join(f'{v} is not set per run: {FIXED_DBT_VARS[v]}' for v in fixed)})"
    return None


def day_runs(paths: Paths, reload: bool = False) -> list[tuple[str | None, dict[str, str]]]:
    """How a catch-up is split into runs, as (landing day, tags) in the order to run them: one run per
    pending landing day, oldest first, tagged THROUGH_TAG with its day, so each run loads the files
    named up to its day and the snapshots record every day's state; one run without the tag when no
    day is pending (retention, requests and the rebuild run daily all the same). `klantkluis run`
    and the daily full_refresh schedule both split this way. Reads the load ledger read-only
    (WarehouseBusy while another process holds the warehouse: see OLDEST_DAY_RUN).

    With `reload` (`klantkluis run --reload`), the last run has RELOAD_TAG: all instead of a day, so
    it loads every landing file again: the files of the days loaded before (a late file for an
    earlier day may be the only one pending), and those named without a day. The runs before it load
    their own day's new files as usual (new loads go by the rules in force), so each pending day
    still has its own run and its own state in the snapshots; the reload's state is the last one."""
    runs = [(day, {THROUGH_TAG: day}) for day in pending_days(paths)] or [(None, {})]
    if reload:
        runs[-1] = (runs[-1][0], {RELOAD_TAG: "all"})
    return runs


# The run of a catch-up whose pending days are not known when it is requested (the ledger was held by
# another process): it loads the oldest pending day only, decided by its first ingest step
# (`through_day`); the sensor `landing_days_after_oldest` requests the later days once it succeeded.
OLDEST_DAY_RUN: tuple[str | None, dict[str, str]] = (None, {THROUGH_TAG: OLDEST})


def through_day(context: OpExecutionContext, con, paths: Paths) -> str | None:
    """The day up to which this run loads landing files (its THROUGH_TAG), None for every file.

    `oldest` is decided once per run, through the step's connection `con`: the first ingest step to
    get here takes the oldest pending landing day and records it as the run's tag OLDEST_DAY_TAG
    (NO_DAY when none is pending: the run then takes every file, as one without the tag); the later
    steps read it there. Each judging anew would disagree: after an earlier step loaded that day's
    files, the oldest pending day is the next one."""
    through = context.run.tags.get(THROUGH_TAG)
    if through != OLDEST:
        return through
    run = context.instance.get_run_by_id(context.run.run_id)  # this run's tags now, not as it started
    if (day := (run.tags if run else {}).get(OLDEST_DAY_TAG)) is None:
        day = next(iter(pending_days(paths, con)), NO_DAY)
        context.instance.add_run_tags(context.run.run_id, {OLDEST_DAY_TAG: day})
        context.log.info(f"This run loads the oldest pending landing day: {day} (tag {OLDEST_DAY_TAG}); the later "
                         "days follow in runs of their own" if day != NO_DAY else
                         "No landing day is pending: this run takes every landing file, as one without a day")
    return None if day == NO_DAY else day


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


def simulation_problem(paths: Paths) -> str | None:
    """Why time may not be simulated ahead of now in this installation: only a demo one (with the
    truth/ folder `klantkluis demo` writes) may be swept at a later time. On a live installation a
    simulated run deletes for real what retention removes by then (Art. 5(1)(e) applied years
    early: rows, landing files, keys), and runs at the real time are refused after it. None for a demo."""
    if paths.truth.is_dir():
        return None
    return (f"{paths.home} is not a demo installation (no {paths.truth.name}/ folder from `klantkluis demo`), so "
            "time is not simulated in it: the run would apply the retention rules at that time to its data for real. "
            "Simulate in an installation of its own: `klantkluis --home data/sim demo`, then "
            "`klantkluis --home data/sim run --as-of ... --simulate`")


def run_time(context: OpExecutionContext) -> datetime:
    """The run's notion of now (UTC): the `klantkluis/as_of` tag (to simulate time), else the run's
    creation. Failure for a mistyped `klantkluis/` tag (see `tag_problems`), for a tag more than a day ahead without `klantkluis/simulate` (see `ahead_of_now`),
    or with it in an installation that is not a demo (see `simulation_problem`)."""
    if problems := tag_problems(context.run.tags):  # before any step acts on the run
        raise Failure("This run's tags are mistyped, so no step runs: " + "; ".join(problems) + ". Launch it again "
                      "with the tags corrected (Re-execute keeps the tags of the run it repeats).")
    tag = context.run.tags.get(AS_OF_TAG)
    if tag:
        moment = datetime.fromisoformat(tag)
        moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        if problem := ahead_of_now(moment):
            if context.run.tags.get(SIMULATE_TAG) != "true":
                raise Failure(problem)  # a run from the UI with a mistyped year: no step acts on it
            if refused := simulation_problem(context.resources.klantkluis.paths):
                raise Failure(refused)  # the simulate tag copied onto a live installation's run
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
        While another process holds the warehouse, the step is retried (`waiting_while_busy`); a dbt
        build whose run was killed is ended first (`dbt_process.end_orphaned_dbt`)."""
        self.paths.home.mkdir(parents=True, exist_ok=True)
        with self.waiting_while_busy():
            try:
                con = connect_duckdb(self.paths.warehouse, read_only=read_only)
            except WarehouseBusy:
                if (orphan := end_orphaned_dbt(self.paths.state)) is None:
                    raise
                get_dagster_logger().warning(f"Ended the dbt build (process {orphan}) of a run that was stopped "
                                             "while dbt ran: it held the warehouse.")
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
