"""Run the full_refresh job in-process on the persistent Dagster instance, then summarise.

Landing days not loaded yet are processed in order, one run per day, so the snapshots record
each day's state (history) even when several days arrive at once.
"""

import fcntl
import os
import sys
from collections import defaultdict
from contextlib import contextmanager, redirect_stdout
from datetime import datetime, timezone
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

from expectations.suites import missing_suite
from orchestration.console import INTERRUPTED, DbtProgress
from orchestration.dbt_process import boot_id, end_orphaned_dbt
from orchestration.headlines import all_figures
from orchestration.ingest.landing_zone import WARNING, business_day, landing_notes
from orchestration.ingest.sources import going_back_in_time, last_load
from orchestration.project import manifest_problem
from orchestration.resources import AS_OF_TAG, COMMAND_LINE_TAG, SIMULATE_TAG, ahead_of_now, day_runs, simulation_problem
from orchestration.settings import DBT_PROJECT_DIR, Paths, WarehouseBusy, connect_duckdb
from orchestration.requests.common import requests_note
from orchestration.summary import (layer_counts, quarantine_counts, reconciliation, render, root_cause, stage_of,
                                   warnings_of)
from privacy import retention
from privacy.classification import load_classification
from privacy.paths import private_dir
from privacy.policy import load_policy

QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
RUN_LOCK = "run.lock"  # in <home>/state: held by the one `klantkluis run` of an installation


def _open_keys(paths: Paths) -> None:
    """The keys, opened before any step: a key-file mistake (a wrong KLANTKLUIS_KEY_DIR, a key
    readable by others) is one message (KeyFileError, exit 2) instead of a failure in every step."""
    from privacy.masterkey import master_key_from_env
    from privacy.pseudonym import pseudonymiser_from_env

    env = {**os.environ, **paths.environment()}
    pseudonymiser_from_env(env)
    master_key_from_env(env).key_id  # noqa: B018  (reads, or on first use creates, the key file)


def run_full_refresh(paths: Paths, as_of: datetime | None = None, reload: bool = False,
                     simulate: bool = False, strict: bool = False) -> int:
    """Materialise every asset (per pending landing day); print rows, time per stage, file locations.

    `reload`: the last run loads every landing file again, unchanged ones too, with no day limit
    (every day's files, those loaded before too); the pending days before it keep a run each (`day_runs`).
    `simulate`: allow an `as_of` more than a day ahead of now, in a demo installation. `strict`: a run that succeeded with
    warnings in its summary (checks of severity warn, landing-zone warnings) exits with 3, not 0, for
    a cron job or monitor that alerts on the exit code."""
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=timezone.utc)  # as the runs read the tag (resources.run_time)
    if (orphan := end_orphaned_dbt(paths.state)) is not None:  # it holds the warehouse the checks below read
        print(f"Ended the dbt build (process {orphan}) of a run that was stopped (killed, or its process ended) "
              "while dbt ran: it held the warehouse. This run builds the marts again.", flush=True)
    # a mistake in privacy/policy.yml: one PolicyError now, not one failure per step
    classification = load_classification(DBT_PROJECT_DIR)
    retention.check_anchors(classification, load_policy())
    ahead = ahead_of_now(as_of)  # with --simulate, allowed in a demo installation only
    if problem := going_back_in_time(as_of or datetime.now(timezone.utc), last_load(paths), "the raw layer") \
            or (ahead and (simulation_problem(paths) if simulate else ahead)) or manifest_problem() \
            or next(filter(None, (missing_suite(t.name) for t in classification if t.layer == "source" and t.subject)),
                    None):
        print(f"Error: {problem}", file=sys.stderr)
        return 2  # a user mistake found before any work, like the CLI's own (README: The command line)
    with run_lock(paths, "run again if need be"):
        return _run_days(paths, as_of, reload, simulate, strict)


@contextmanager
def run_lock(paths: Paths, then: str):
    """Hold the installation's run lock (one `klantkluis run`, or a command that changes the raw
    layer, at a time); WarehouseBusy naming the process that holds it, and `then`, what to do after."""
    with open(private_dir(paths.state) / RUN_LOCK, "a+") as lock:
        try:  # held until this process ends, however it ends: a stopped run never blocks the next
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise WarehouseBusy(f"another `klantkluis run` (process {(lock.read().split() or ['?'])[0]}), or an unload, "
                                f"is running on this installation: wait for it to finish (`klantkluis status`), then "
                                f"{then}.") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()} {boot_id()}")
        lock.flush()
        yield


def run_going(paths: Paths) -> bool:
    """Whether the process of the last `klantkluis run` (its id is in the run lock) is still alive: a
    run of the command line that Dagster still records as started, without it, was stopped (killed,
    or the machine went down). Asked without taking the lock, so a run starting meanwhile is not
    refused."""
    try:
        pid, *boot = (paths.state / RUN_LOCK).read_text().split()
        pid = int(pid)
    except (OSError, ValueError):
        return False
    if boot and boot[0] != boot_id():  # the machine restarted since: that process is gone, whatever has its id
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another account
        return True
    return pid > 0


def end_stopped_runs(instance, paths: Paths, holding_lock: bool = False) -> list[str]:
    """Record as failed the runs of `klantkluis run` that Dagster still records as going while no such
    process is alive (killed, or the machine went down; ``holding_lock``: this process holds the run
    lock and has started no run yet). The run queue counts them (one run at a time), so every run
    from the UI, the 02:00 schedule's and each data subject request's (Art. 12(3)) would wait behind
    them for ever. A re-execution from the UI carries the tag but is the daemon's. Returns their ids."""
    from dagster import DagsterRunStatus, RunsFilter

    if not holding_lock and run_going(paths):
        return []
    going = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
    stopped = [r.dagster_run for r in instance.get_run_records(filters=RunsFilter(
        tags={COMMAND_LINE_TAG: "run"}, statuses=going)) if "dagster/parent_run_id" not in r.dagster_run.tags]
    for run in stopped:
        instance.report_run_failed(run, message="The `klantkluis run` process of this run ended before the run did "
                                                "(killed, or the machine went down), so it is recorded as failed: "
                                                "the run queue no longer waits for it. `klantkluis run` again "
                                                "takes it up; what was loaded stays loaded.")
    return [run.run_id for run in stopped]


def _stale_copies(paths: Paths, events) -> str | None:
    """What to say when the run swept the raw layer but did not publish: the BI copies still hold
    what the sweep removed (Art. 5(1)(e)) until a run gets through to the publish step."""
    from orchestration.assets.retention import PUBLISHED_KEY, SWEEP_KEY

    done = {e.step_key for e in events if e.event_type == DagsterEventType.STEP_SUCCESS}
    # rows the sweep or (for their own tables) the ingest steps deleted or anonymised in this run
    swept = sum(value.value for e in events if e.event_type == DagsterEventType.ASSET_MATERIALIZATION
                for key, value in e.event_specific_data.materialization.metadata.items()
                if key in ("rows_swept", "past_retention_swept"))
    if not swept or "__".join(SWEEP_KEY.path) not in done or "__".join(PUBLISHED_KEY.path) in done \
            or not (paths.published / "marts.duckdb").exists():
        return None
    return (f"  The BI copies in {paths.published} are still those of the last build that got through; until a run "
            "does, they hold the rows this run's retention sweep removed from the warehouse. Fix the failure above "
            "and run again today.")


def failed_check(check, shown: int = 5) -> list[str]:
    """The lines a failed check gets in the summary: its name and description, then the first of its
    ``details`` findings (table and column names with the problem, never values), so the fix is
    named without the UI."""
    lines = [f"  check {check.asset_key.to_user_string()}:{check.check_name}: {check.description or 'failed'}"]
    details = check.metadata.get("details")
    found = [line.strip() for line in str(details.value if details else "").splitlines() if line.strip()]
    lines += [f"    {line}" for line in found[:shown]]
    if len(found) > shown:
        lines.append(f"    and {len(found) - shown} more (the check's details in the Dagster UI)")
    return lines


def _run_days(paths: Paths, as_of: datetime | None, reload: bool, simulate: bool, strict: bool = False) -> int:
    _open_keys(paths)
    paths.prepare_dagster_home()
    from orchestration.definitions import defs  # after DAGSTER_HOME and KLANTKLUIS_HOME are set

    job = defs.resolve_job_def("full_refresh")
    stages: dict[str, float] = defaultdict(float)
    runs, warnings, ran = day_runs(paths, reload), {}, 0  # with reload, the last run reloads every file
    with DagsterInstance.get() as instance:
        end_stopped_runs(instance, paths, holding_lock=True)  # a killed run before this one: the queue waits
        for day, day_tags in runs:
            ran += 1
            tags = {COMMAND_LINE_TAG: "run", **day_tags, **({AS_OF_TAG: as_of.isoformat()} if as_of else {}),
                    **({SIMULATE_TAG: "true"} if simulate else {})}
            if len(runs) > 1:
                print(f"Processing landing day {day} ...", flush=True)
            with DbtProgress(sys.stdout) as progress, redirect_stdout(progress):
                result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False, run_config=QUIET)
            for event in result.all_events:
                if event.event_type == DagsterEventType.STEP_SUCCESS:
                    stages[stage_of(event.step_key)] += event.event_specific_data.duration_ms / 1000
            warnings = warnings_of(defs.resolve_asset_graph(), result.all_events)  # as the latest day left them
            if not result.success:
                break
    landing = []
    if paths.warehouse.exists():  # the first run may fail before it creates the warehouse
        with connect_duckdb(paths.warehouse, read_only=True) as con:
            landing = landing_notes(paths, con, business_day(as_of))
            print(render(paths, layer_counts(con), dict(stages), reconciliation(con),
                         failed=not result.success, requests=requests_note(paths), days=ran,
                         quarantine=quarantine_counts(con), warnings=list(warnings.values()),
                         landing=landing, headlines=all_figures(con)))
    if not result.success:
        print("The run failed:")
        for event in result.all_events:
            if event.event_type == DagsterEventType.STEP_FAILURE:
                error = event.event_specific_data.error
                if error.cls_name == "DagsterAssetCheckFailedError":
                    continue  # its failed check has its own line, with the reason
                error = root_cause(error)
                if error.cls_name == INTERRUPTED:
                    print(f"  {event.step_key}: interrupted (Ctrl-C or a stop signal); `klantkluis run` again takes "
                          "it up: what was loaded stays loaded, and files are not read twice")
                    continue
                cause, _, text = error.message.strip().partition(": ")  # "package.module.Class: message"
                print(f"  {event.step_key}: {text if text and cause.endswith(error.cls_name or '?') else error.message.strip()}")
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION and not event.event_specific_data.passed:
                print("\n".join(failed_check(event.event_specific_data)))
        if stale := _stale_copies(paths, result.all_events):
            print(stale)
        if later := [d for d, _ in runs[ran:]]:
            print(f"Not processed, since the run stopped at landing day {runs[ran - 1][0]}: landing day(s) "
                  f"{', '.join(later)}. `klantkluis run` processes them once the failure is fixed.")
        return 1
    warned = len(warnings) + sum(note.startswith(WARNING) for note in landing)
    if strict and warned:
        print(f"--strict: the run succeeded with {warned} warning(s) in its summary; exit code 3.")
        return 3
    return 0
