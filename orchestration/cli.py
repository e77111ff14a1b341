"""`klantkluis`: the operator's command line (demo data, runs, the UI, privacy operations)."""

import argparse
import errno
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from expectations.suites import SOURCES as LANDING_SOURCES
from orchestration.check import add_check_command
from orchestration.cli_breach import add_breach_commands
from orchestration.cli_args import moment, port, positive, share
from orchestration.cli_privacy import add_privacy_commands
from orchestration.ingest.reader import LandingFileError
from orchestration.requests.cli import add_request_commands
from orchestration.settings import PROJECT_DIR, Paths, WarehouseBusy, WarehouseWalMismatch, settings_problem
from privacy.exceptions import PrivacyError


def _demo(args, paths: Paths) -> int:
    from orchestration.demo.generate import generate
    from orchestration.ingest.landing_zone import business_day
    from orchestration.ingest.sources import loaded_before

    if paths.mapping.is_file():  # fake people beside real ones: never, --force or not
        print(f"{paths.mapping} configures this installation's own sources; no demo data written "
              "(use another --home for the demo).")
        return 0
    if paths.landing.is_dir() and any(p.is_file() for p in paths.landing.rglob("*")):
        if not paths.truth.is_dir():  # no demo wrote them: a user's own exports, never overwritten
            print(f"Landing zone {paths.landing} holds files the demo did not write (your own exports?): no demo data "
                  "written, --force or not. Use another --home for the demo; `klantkluis check SOURCE` and "
                  "`klantkluis run` read your files.")
            return 0
        if not args.force:
            print(f"Landing zone {paths.landing} already holds demo files; keeping them (--force regenerates them).")
            return 0
    if loaded_before(paths):  # new days' files beside the loaded rows: every customer twice, or fake beside real
        if paths.truth.is_dir() and not args.force:  # a demo whose files went after their retention (`make run`)
            print(f"The warehouse {paths.warehouse} holds the demo's rows, loaded from files since removed after "
                  "their retention; keeping them (`klantkluis run` goes on with them).")
            return 0
        print(f"The warehouse {paths.warehouse} holds loaded rows; demo files would be loaded beside them. "
              + (f"To start over: `rm -rf {paths.home}`, then `klantkluis demo`." if paths.truth.is_dir() else
                 "Use another --home for the demo."))
        return 2
    for path in [*paths.landing.rglob("*"), *paths.truth.rglob("*")]:  # the demo's own files, named by their day
        if path.is_file():
            path.unlink()
    # The demo's two landing days are the two days before today, as a live installation's latest
    # exports are: recency, activity windows and CLV are measured from the run's time.
    first_day = business_day() - timedelta(days=2)
    print(f"Generating demo data for {args.customers:,} customers (seed {args.seed}), landing days {first_day} and "
          f"{first_day + timedelta(days=1)}, in {paths.landing} ...")
    result = generate(paths.home, customers=args.customers, seed=args.seed, as_of=first_day)
    for source, n in result.rows.items():
        print(f"  {source:<16} {n:>12,} rows")
    if args.defect_rate:
        from orchestration.demo.defects import inject_defects

        planted = inject_defects(paths.landing, args.defect_rate, args.seed)
        print(f"  injected {len(planted):,} defects into those rows (duplicates and split lines change the counts; "
              f"kinds and lines in {paths.truth / 'defects.jsonl'})")
    print(f"  done in {result.seconds:.1f} s")
    return 0


def _run(args, paths: Paths) -> int:
    from orchestration.pipeline import run_full_refresh

    return run_full_refresh(paths, as_of=args.as_of, reload=args.reload, simulate=args.simulate, strict=args.strict)


def _status(args, paths: Paths) -> int:
    from orchestration.headlines import all_figures
    from orchestration.ingest.landing_zone import business_day, landing_notes
    from orchestration.ingest.sources import last_load
    from orchestration.requests.common import requests_note
    from orchestration.settings import connect_duckdb
    from orchestration.summary import layer_counts, quarantine_counts, reconciliation, render

    if not paths.warehouse.exists():
        print(f"No warehouse yet in {paths.home}: `klantkluis --home {paths.home} run` builds it.")
        return 0
    said, last = _last_run(paths)
    print(said)
    with connect_duckdb(paths.warehouse, read_only=True) as con:
        # the installation's time: a simulated run (--as-of --simulate) loaded days after today
        now = max(filter(None, (datetime.now(timezone.utc), last_load(paths, con))))
        print(render(paths, layer_counts(con), {}, reconciliation(con), requests=requests_note(paths),
                     quarantine=quarantine_counts(con), warnings=_warnings_of(last),
                     landing=landing_notes(paths, con, business_day(now)), headlines=all_figures(con),
                     title="klantkluis status"))
    return 0


def _last_run(paths: Paths):
    """The last run of the full_refresh job (this installation's Dagster instance): when, and whether
    the counts that follow are its results; and its run record (None if there is none to read)."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    if not (paths.dagster_home / "dagster.yaml").is_file():
        return "No run recorded in this installation yet.", None
    try:
        with DagsterInstance.get() as instance:  # DAGSTER_HOME: this installation's (main exports it)
            records = instance.get_run_records(filters=RunsFilter(job_name="full_refresh"), limit=1)
            good = instance.get_run_records(filters=RunsFilter(job_name="full_refresh",
                                                               statuses=[DagsterRunStatus.SUCCESS]), limit=1)
    except Exception as exc:  # e.g. an auditor's account that may not open its storage: the counts still help
        return (f"The last run is unknown: the Dagster instance in {paths.dagster_home} could not be read "
                f"({type(exc).__name__})."), None
    if not records:
        return "No run of full_refresh recorded in this installation's Dagster instance.", None
    record = records[0]
    status, started = record.dagster_run.status, record.create_timestamp.strftime("%Y-%m-%d %H:%M UTC")
    if status == DagsterRunStatus.SUCCESS:
        return f"Last run: {started}, succeeded; the counts below are its results.", record
    if status in (DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.QUEUED):
        from orchestration.pipeline import COMMAND_LINE_TAG, run_going

        tags = record.dagster_run.tags  # a run the UI re-executed carries the tags of the one it repeats
        if COMMAND_LINE_TAG in tags and "dagster/parent_run_id" not in tags and not run_going(paths):
            return (f"A run started at {started} stopped before it finished (its process ended): `klantkluis run` "
                    "again takes it up; the counts below are as it left them."), record
        return f"A run started at {started} is still going: the counts below are changing.", record
    marts = (f"the marts below are from the last run that succeeded ({good[0].create_timestamp:%Y-%m-%d %H:%M UTC})"
             if good else "no run has succeeded yet, so the marts below may be missing or partial")
    return (f"Last run: {started}, {status.value.lower()}: {marts}; `klantkluis run` (or the Dagster UI) shows "
            "why it failed."), record


def _warnings_of(record) -> list[str]:
    """The warnings of a run (its record, or None), as its summary listed them."""
    from dagster import DagsterEventType, DagsterInstance

    from orchestration.summary import warnings_of

    if record is None:
        return []
    try:
        with DagsterInstance.get() as instance:
            events = [entry.dagster_event for entry in instance.all_logs(
                record.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
    except Exception:  # as _last_run: the counts still help where the instance cannot be read
        return []
    if all(e.event_specific_data.passed for e in events):
        return []
    from orchestration.definitions import defs  # only now: the descriptions name the fix, loading takes seconds

    return list(warnings_of(defs.resolve_asset_graph(), events).values())


def _dagster(paths: Paths, program: str, *options: str, says: str) -> int:
    """Replace this process by a Dagster program on the installation's definitions, with the
    environment and instance settings every `klantkluis run` has (``Paths.environment``,
    ``Paths.prepare_dagster_home``: one run at a time, the inbox)."""
    from orchestration.project import manifest_problem

    if problem := manifest_problem():
        print(f"Error: {problem}", file=sys.stderr)
        return 2
    os.environ.update(paths.environment())
    paths.prepare_dagster_home()
    os.chdir(PROJECT_DIR)
    print(says, flush=True)
    cmd = [str(Path(sys.executable).parent / program), *options, "-m", "orchestration.definitions"]
    os.execv(cmd[0], cmd)


def _ui(args, paths: Paths) -> int:
    return _dagster(paths, "dagster", "dev", "-h", "127.0.0.1", "-p", str(args.port),
                    says=f"Serving the Dagster UI on http://127.0.0.1:{args.port} for {paths.warehouse} "
                         "(Ctrl-C stops it).")


def _daemon(args, paths: Paths) -> int:
    return _dagster(paths, "dagster-daemon", "run",
                    says=f"Running the Dagster daemon for {paths.home}: the 02:00 and 03:00 schedules, the sensors "
                         "and the run queue (SIGTERM or Ctrl-C stops it).")


def _webserver(args, paths: Paths) -> int:
    return _dagster(paths, "dagster-webserver", "-h", args.host, "-p", str(args.port),
                    says=f"Serving the Dagster UI on http://{args.host}:{args.port} for {paths.home}; schedules and "
                         "the sensor run only while `klantkluis daemon` runs too.")


def _unload(args, paths: Paths) -> int:
    """Take a landing file loaded by mistake (a wrong name, folder or export) out of the raw layer."""
    from orchestration.compaction import record_deletion
    from orchestration.ingest.context import IngestContext
    from orchestration.ingest.sources import last_load, source_files
    from orchestration.ingest.writer import unload_file
    from orchestration.pipeline import run_lock
    from orchestration.settings import connect_duckdb
    from privacy.rights.requests import is_request_batch

    source, file = args.source, Path(args.file).name
    if is_request_batch(file):
        raise LandingFileError(f"{file} holds the consent events of data subject request {Path(file).stem}, not a "
                               "landing file: they stay (Art. 7(3), 21(3))")
    if file in {p.name for p in source_files(paths, source)}:
        raise LandingFileError(f"{file} is still among the landing files of {source}, so the next run would load it "
                               "again: move it out of the landing zone first (a corrected file under the same name "
                               "needs no unload: the next run loads it anew)")
    if (last := last_load(paths)) is None:
        raise LandingFileError(f"nothing is loaded in {paths.home} yet, so there is nothing to unload")
    now = max(datetime.now(timezone.utc), last)  # after every load: the unload is the file's latest word
    with run_lock(paths, "unload again"), connect_duckdb(paths.warehouse) as con:
        rows, quarantined, rectified = unload_file(con, source, file, IngestContext.new_batch_id(),
                                                   paths.audit(), now)
    record_deletion(paths, now)  # their bytes leave the warehouse file at its next compaction
    print(f"{source}/{file} unloaded: {rows:,} rows taken out of raw.{source} and {quarantined:,} out of the "
          "quarantine. The next `klantkluis run` builds the marts without them; the snapshots keep the history "
          "they recorded from it." + (f" {rectified:,} of the rows held rectified values (Art. 16): if the file "
                                     "comes back, file those rectifications again." if rectified else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="klantkluis", description=__doc__)
    parser.add_argument("--home", help="installation folder (default: $KLANTKLUIS_HOME, else data/ in the project "
                                       "folder, wherever you run it from)")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generate the demo landing zone if it is absent")
    demo.add_argument("--customers", type=positive, default=10_000, help="number of customers (default 10000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed: the same seed gives the same files")
    demo.add_argument("--force", action="store_true", help="regenerate even if landing files exist")
    demo.add_argument("--defect-rate", type=share, default=0.0,
                      help="share of rows to damage with documented defects (see orchestration/demo/defects.py)")
    demo.set_defaults(func=_demo)
    run = sub.add_parser("run", help="materialise every asset (the full_refresh job) and print a summary")
    run.add_argument("--as-of", type=moment, default=None,
                     help="the run's time (ISO 8601, e.g. 2026-11-30T06:00:00+00:00); more than a day ahead "
                          "only with --simulate")
    run.add_argument("--simulate", action="store_true",
                     help="allow a later --as-of: the run applies retention at that time for real, so use an "
                          "installation of its own (--home)")
    run.add_argument("--reload", action="store_true",
                     help="load every landing file again, unchanged ones too (after fixing a rule or a column mapping)")
    run.add_argument("--strict", action="store_true",
                     help="exit with 3 instead of 0 when the run succeeded with warnings in its summary (for cron "
                          "or a monitor that alerts on the exit code)")
    run.set_defaults(func=_run)
    status = sub.add_parser("status", help="the installation as the last run left it: rows per layer, the "
                            "reconciliation, quarantined rows per rule, the last run's warnings, open requests (no run)")
    status.set_defaults(func=_status)
    unload = sub.add_parser("unload", help="take the rows of a landing file loaded by mistake (a wrong name, folder or "
                            "export) out of the raw layer; the file must be out of the landing zone")
    unload.add_argument("source", choices=sorted(LANDING_SOURCES), help="the source the file was loaded as")
    unload.add_argument("file", help="the file's name, as `klantkluis status` lists it")
    unload.set_defaults(func=_unload)
    ui = sub.add_parser("ui", help="serve the Dagster UI on 127.0.0.1")
    ui.add_argument("--port", type=port, default=3000, help="port on 127.0.0.1 (default 3000)")
    ui.set_defaults(func=_ui)
    daemon = sub.add_parser("daemon", help="run the Dagster daemon (schedules, the request sensor, the run queue): "
                            "the production service beside `webserver`")
    daemon.set_defaults(func=_daemon)
    webserver = sub.add_parser("webserver", help="serve the Dagster UI without a daemon: the production service "
                               "beside `daemon`")
    webserver.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    webserver.add_argument("--port", type=port, default=3000, help="port (default 3000)")
    webserver.set_defaults(func=_webserver)
    add_check_command(sub)
    add_privacy_commands(sub)
    add_breach_commands(sub)
    add_request_commands(sub)
    return parser


READ_ONLY = frozenset({"audit", "audit-verify", "breach assess", "check", "requests", "status"})  # commands that only read the installation
CREATE = frozenset({"demo", "run"})  # commands that may start an installation in a new folder


def _home_problem(paths: Paths, command: str) -> str | None:
    """Why the installation folder cannot be used for `command`, or None: `demo` and `run` need a
    folder this account can create (if need be) and write in; every other command an existing
    installation, so that a mistyped --home is not taken for a new one (a request filed where no
    sensor looks, a master key rotated in the wrong place); one that only reads does not need write
    access (an auditor's read-only account will do)."""
    home = paths.home
    if home.exists() and not home.is_dir():
        return f"the installation folder {home} is a file; choose a folder with --home or KLANTKLUIS_HOME"
    if command == "redaction-eval":
        return None  # generated texts only
    if command not in CREATE and not paths.is_installation():
        return (f"{home} is not a klantkluis installation (no landing zone, warehouse, inbox, state or sources.yml); "
                "give the folder of an installation with --home or KLANTKLUIS_HOME, or start one there: your "
                f"exports in {home / 'landing'}/<source>/ or a {home / 'sources.yml'} (README, 'Point it at your own "
                f"files'), or demo data with `klantkluis --home {home} demo`")
    if command in READ_ONLY:
        return None
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as exc:
        return (f"the installation folder {home} cannot be used ({exc.strerror or type(exc).__name__}); "
                "choose a folder you can write to, with --home or KLANTKLUIS_HOME")
    try:  # the run lock, the request ledger and the audit log: a restore as another account, a read-only volume
        if paths.state.is_dir():
            with tempfile.TemporaryFile(dir=paths.state):
                pass
    except OSError as exc:
        return (f"the installation's state folder {paths.state} cannot be written ({exc.strerror or type(exc).__name__}): "
                "the account that runs klantkluis needs to read and write it and its files, on a volume that is "
                "neither read-only nor full")
    return None


def _reader_gone() -> None:
    """The reader of our output has gone (`klantkluis audit | head`): what is left to write goes
    nowhere, so the command ends quietly instead of with a BrokenPipeError at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def disk_full(exc: BaseException) -> str | None:
    """The file a "no space left on device" error names ('' when it names none) if ``exc`` is one or
    was caused by one (Dagster's storage wraps SQLite's "database or disk is full"); else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return str(exc.filename or "")
        if any(said in str(exc) for said in ("database or disk is full", "No space left on device")):
            return ""
        exc = exc.__cause__ or exc.__context__
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if problem := settings_problem():
        print(f"Error: {problem}", file=sys.stderr)
        return 2
    paths = Paths.from_home(args.home)
    if problem := _home_problem(paths, " ".join(filter(None, (args.command, getattr(args, "breach_command", None))))):
        print(f"Error: {problem}", file=sys.stderr)
        return 2
    os.environ.update(paths.environment())
    started = time.perf_counter()
    try:
        return args.func(args, paths) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _reader_gone()
        return 1
    except (LandingFileError, PrivacyError, WarehouseBusy, WarehouseWalMismatch) as exc:  # the fix, named in the message (never values)
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if (file := disk_full(exc)) is None:
            raise
        print(f"Error: the disk is full{f' (writing {file})' if file else ''}. Free space on it (`df -h {paths.home}`), "
              f"then run `klantkluis {args.command}` again: loads, request records and audit entries are written whole "
              "or not at all.", file=sys.stderr)
        return 2
    finally:
        try:
            if args.command not in ("ui", "daemon", "webserver"):
                print(f"({args.command} took {time.perf_counter() - started:.1f} s)", flush=True)
        except BrokenPipeError:
            _reader_gone()


if __name__ == "__main__":
    sys.exit(main())
