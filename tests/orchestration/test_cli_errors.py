"""A user's mistake on the command line gets one message naming the fix, never a traceback."""

import shutil

import duckdb
import pytest

from orchestration.cli import main
from orchestration.ingest.reader import LandingFileError
from orchestration.ingest.sources import no_files_message, source_files
from orchestration.settings import Paths


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name, value in Paths.from_home(tmp_path).environment().items():
        monkeypatch.setenv(name, value)  # main() exports them; the fixture restores them
    return tmp_path


@pytest.mark.parametrize("entry, said", [
    ("orders:\n  columns: [CustomerNo]\n", "columns and csv each a mapping"),
    ("orders:\n  files: 5\n", "files must be one glob"),
    ("orders:\n  colums: {customer_id: CustomerNo}\n", "unknown key(s) colums"),
    ("orders: [a, b]\n", "per source"),
    ("order:\n  files: x/*.csv\n", "unknown source(s) order; the sources are crm_customers, orders,"),
    ("orders:\n  columns: {amout: Revenue}\n", "unknown column(s) amout of ours under columns"),
    ("orders:\n  absent: true\n  files: x/*.csv\n", "`absent: true` stands alone"),
    ("orders:\n  absent: yes please\n", "absent is true or false, not 'yes please'"),
    ("orders:\n  files: exports/*/orders.csv\n", "wildcards work in the file name only"),
    ("orders:\n  columns: {order_id: Nr, customer_id: Nr}\n", "column(s) Nr of yours mapped to more than one"),
    ("orders:\n  files: x/*.csv\n   columns: {}\n", "not valid YAML at line 3, column 11 (mapping values are not allowed here)"),
    ("orders:\n  csv: {delimiter: ':'}\n", "csv delimiter ':' is not one this reader knows; use one of ',', ';', tab, '|'"),
    ("orders:\n  csv: {encoding: utf-16}\n", "csv encoding 'utf-16' is not one this reader knows; use one of 'utf-8'"),
    ("orders:\n  csv: {decimals: ','}\n", "unknown csv setting decimals; the settings are delimiter, encoding, decimal"),
    ("orders:\n  csv: {dates: us}\n", "csv dates 'us' is not one this reader knows; use one of 'iso', 'day-first'"),
    ("orders:\n  csv: ';'\n", "columns and csv each a mapping"),
    ("orders:\n  absent: true\n  csv: {delimiter: ';'}\n", "`absent: true` stands alone"),
])
def test_a_malformed_sources_yml_names_the_source_and_the_expected_shape(home, entry, said):
    (home / "sources.yml").write_text(entry)
    with pytest.raises(LandingFileError) as err:
        source_files(Paths.from_home(home), "orders")
    assert said in str(err.value) and "sources.yml" in str(err.value)


def test_the_cli_reports_a_malformed_sources_yml_in_one_line(home, capsys):
    (home / "landing" / "orders").mkdir(parents=True)
    (home / "sources.yml").write_text("orders:\n  colums: {customer_id: CustomerNo}\n")
    assert main(["--home", str(home), "run"]) == 2
    out = capsys.readouterr()
    assert "Error:" in out.err and "unknown key(s) colums" in out.err and "Traceback" not in out.out + out.err


@pytest.mark.slow
def test_a_first_run_without_landing_files_says_how_to_get_them(home, capsys):
    assert main(["--home", str(home), "run"]) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert "The run failed:" in out and "raw__orders: No landing files for orders in " in out
    assert f"klantkluis --home {home} demo" in out and "Traceback" not in out and "dagster._core" not in out
    # Dagster's own console log shows each failed step's message, without its stack trace.
    assert "No landing files for orders" in captured.err and "Stack Trace" not in captured.err


@pytest.mark.slow
def test_a_run_stopped_on_one_landing_day_names_the_days_it_did_not_process(home, capsys):
    """Onboarding review: the summary said "summed over the 2 landing days" when the first failed
    and the second never ran."""
    folder = home / "landing" / "orders"
    folder.mkdir(parents=True)
    for day in ("2026-01-01", "2026-01-02"):  # no other source has files: the first day's run fails
        (folder / f"{day}.csv").write_text("order_id,customer_id,order_date,amount,margin,product_category,channel,"
                                           f"payment_method\nO{day[-1]},C1,{day},1.00,0.50,books,web,ideal\n")
    assert main(["--home", str(home), "run", "--as-of", "2026-01-03T00:00:00+00:00"]) == 1
    out = capsys.readouterr().out
    assert "Processing landing day 2026-01-01" in out and "Processing landing day 2026-01-02" not in out
    assert "summed over" not in out
    assert ("Not processed, since the run stopped at landing day 2026-01-01: landing day(s) 2026-01-02. "
            "`klantkluis run` processes them once the failure is fixed.") in out


@pytest.mark.parametrize("cls_name, trace_kept", [("Failure", False), ("DagsterAssetCheckFailedError", False),
                                                  ("DagsterExecutionInterruptedError", False),
                                                  ("KeyError", True)])
def test_the_console_log_drops_the_stack_trace_of_user_mistakes_only(cls_name, trace_kept):
    import logging
    from types import SimpleNamespace

    from orchestration.console import _UserErrorsWithoutTrace

    event = SimpleNamespace(event_specific_data=SimpleNamespace(error=SimpleNamespace(cls_name=cls_name)))
    said = "failed.\n\ndagster._core.definitions.events.Failure: x: y\n\nStack Trace:\n  File a"
    record = logging.LogRecord("dagster", logging.ERROR, __file__, 1, said, None, None)
    record.dagster_meta = {"dagster_event": event}
    assert _UserErrorsWithoutTrace().filter(record)
    assert ("Stack Trace" in record.msg) is trace_kept  # a user's mistake reads as the message alone
    assert record.msg.startswith("failed.\n\ndagster._core.definitions.events.Failure: x: y" if trace_kept
                                 else "failed.\n\nx: y")


def test_a_skipped_step_names_each_missing_input_once():
    import logging

    from orchestration.console import _UserErrorsWithoutTrace

    said = ("full_refresh - 1 - privacy__register - Dependencies for step privacy__register failed: ['raw__orders'] "
            "were not executed: ['dbt_models', 'dbt_models', 'dbt_models', 'privacy__retention_sweep']. Not executing.")
    record = logging.LogRecord("dagster", logging.ERROR, __file__, 1, said, None, None)
    assert _UserErrorsWithoutTrace().filter(record)
    assert record.msg.endswith("failed: raw__orders were not executed: dbt_models, privacy__retention_sweep. "
                               "Not executing.")


def test_a_malformed_memory_limit_and_bad_numbers_are_refused_before_any_work(home, monkeypatch, capsys):
    from orchestration import settings

    monkeypatch.setattr(settings, "DUCKDB_MEMORY_LIMIT", "lots")
    assert main(["--home", str(home), "run"]) == 2
    assert "KLANTKLUIS_DUCKDB_MEMORY_LIMIT='lots' is not a size" in capsys.readouterr().err
    monkeypatch.setattr(settings, "DUCKDB_MEMORY_LIMIT", "1.5 GB")
    assert settings.settings_problem() is None
    for argv in (["demo", "--customers", "0"], ["demo", "--defect-rate", "5"]):
        with pytest.raises(SystemExit) as exit_:
            main(["--home", str(home), *argv])
        assert exit_.value.code == 2 and "error: argument" in capsys.readouterr().err


def test_a_run_earlier_than_the_last_load_is_refused_before_it_starts(home, capsys):
    from orchestration.ingest.schema import ensure_raw_tables
    from orchestration.settings import connect_duckdb

    paths = Paths.from_home(home)
    with connect_duckdb(paths.warehouse) as con:
        ensure_raw_tables(con, [])
        con.execute("insert into raw._batches values ('b1', 'orders', 'f.csv', 'x', 1, 1, 0, 0, "
                    "'2026-02-01 00:00:00+00', null, null, null, null)")
    assert main(["--home", str(home), "run", "--as-of", "2026-01-31T23:00:00"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("Error: This run's time 2026-01-31T23:00:00+00:00 is before the last load of the "
                                   "raw layer at 2026-02-01") and "--as-of" in captured.err
    assert "klantkluis run summary" not in captured.out and "STEP_FAILURE" not in captured.err  # no run started
    assert not (paths.dagster_home / "storage").exists()


def test_the_summary_of_a_failed_run_leaves_out_the_rows_of_the_last_build(home):
    from orchestration.summary import render

    paths = Paths.from_home(home)
    args = (paths, {"marts": {"customer_clv": 5}}, {}, [("orders", 3, 2, 1, 0)])
    done, failed = render(*args), render(*args, failed=True)
    assert "customer_clv" in done and "customer_clv" not in failed and "Rows per layer" not in failed
    assert all("orders" in text and str(paths.warehouse) in text for text in (done, failed))
    assert "Time per stage" not in done  # no steps timed: no empty heading
    assert f"klantkluis --home {paths.home} ui" in done and "make ui" not in done  # make ui serves <project>/data
    assert "adds up" in done and "MISMATCH" in render(paths, {}, {}, [("orders", 3, 2, 0, 0)])  # not 'ok': it is a sum
    assert "Requests:" not in done and "Requests: 2 open" in render(*args, requests="2 open")
    timed = (paths, {}, {"ingest": 5.0}, [("orders", 3, 2, 1, 0)])
    assert "Time per stage:" in render(*timed) and "summed over the 2 landing days" in render(*timed, days=2)


def test_a_failed_run_that_swept_but_did_not_publish_says_the_bi_copies_still_hold_what_it_removed(home):
    """Privacy review: a build that failed after the sweep left expired consents in the published
    marketing audience, and the summary said only that dbt failed."""
    from types import SimpleNamespace

    from dagster import DagsterEventType

    from orchestration.pipeline import _stale_copies

    paths = Paths.from_home(home)
    step = lambda key, kind=DagsterEventType.STEP_SUCCESS: SimpleNamespace(event_type=kind, step_key=key)  # noqa: E731
    rows = lambda n: SimpleNamespace(event_type=DagsterEventType.ASSET_MATERIALIZATION, step_key="x",  # noqa: E731
                                     event_specific_data=SimpleNamespace(materialization=SimpleNamespace(
                                         metadata={"rows_swept": SimpleNamespace(value=n)})))
    swept = [rows(3), step("privacy__retention_sweep"), step("dbt_models", DagsterEventType.STEP_FAILURE)]
    assert _stale_copies(paths, swept) is None  # nothing published yet: no copy to be stale
    (paths.published).mkdir(parents=True)
    (paths.published / "marts.duckdb").write_bytes(b"")
    said = _stale_copies(paths, swept)
    assert said and f"The BI copies in {paths.published} are still those of the last build" in said
    assert _stale_copies(paths, [*swept, step("published__marts")]) is None
    assert _stale_copies(paths, [step("raw__orders", DagsterEventType.STEP_FAILURE)]) is None  # nothing swept
    assert _stale_copies(paths, [rows(0), *swept[1:]]) is None  # the sweep found nothing past retention


def test_a_warehouse_held_by_another_process_gets_one_line_naming_that_process(home, capsys, warehouse_held_elsewhere):
    from orchestration.settings import connect_duckdb

    paths = Paths.from_home(home)
    connect_duckdb(paths.warehouse).close()
    with warehouse_held_elsewhere(paths.warehouse) as holder:
        assert main(["--home", str(home), "run"]) == 2
        err = capsys.readouterr().err
        assert main(["--home", str(home), "request", "erasure", "--customer", "C0000001", "--verified-by", "idin"]) == 0
        assert main(["--home", str(home), "process-requests"]) == 2  # as every command, not a code of its own
    assert err.startswith(f"Error: the warehouse {paths.warehouse} is in use by another process (PID {holder.pid})")
    assert "Traceback" not in err
    said = capsys.readouterr().out
    assert f"not answered yet, the warehouse {paths.warehouse} is in use by another process (PID {holder.pid})" in said
    assert len(list(paths.inbox.glob("*.json"))) == 1  # tried again on the next call


def test_a_second_run_on_one_installation_is_refused_while_the_first_runs(home, capsys):
    """Crash review: a second `klantkluis run` waited for the warehouse, then built everything again."""
    import fcntl
    import multiprocessing

    paths = Paths.from_home(home)
    paths.state.mkdir(parents=True)
    ready, done = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_run_lock, args=(paths.state / "run.lock", ready, done))
    holder.start()
    try:
        assert ready.wait(10)
        assert main(["--home", str(home), "run"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"Error: another `klantkluis run` (process {holder.pid}), or an unload, is running on this "
                              "installation")
    finally:
        done.set()
        holder.join(10)
    with open(paths.state / "run.lock") as lock:  # the first run's end (or death) frees it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _hold_run_lock(path, ready, done) -> None:
    import fcntl
    import os

    with open(path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(str(os.getpid()))
        lock.flush()
        ready.set()
        done.wait(30)


def test_an_installation_folder_that_cannot_be_used_gets_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    assert main(["--home", str(tmp_path / "afile"), "demo"]) == 2
    assert main(["--home", str(tmp_path / "afile" / "below"), "audit-verify"]) == 2
    out = capsys.readouterr()
    assert "Error: the installation folder" in out.err and "is not a klantkluis installation" in out.err
    assert out.err.count("--home or KLANTKLUIS_HOME") == 2
    assert "Traceback" not in out.out + out.err


def test_a_state_key_store_or_ledger_that_cannot_be_written_gets_one_line_naming_it(home, monkeypatch, capsys):
    # a read-only volume, a full disk or a restore as another account (as root, no chmod shows it)
    import tempfile

    paths = Paths.from_home(home)
    paths.state.mkdir(mode=0o700)
    real = tempfile.TemporaryFile

    def read_only(*args, **kwargs):
        if str(kwargs.get("dir")) == str(paths.state):
            raise OSError(30, "Read-only file system")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    assert main(["--home", str(home), "run"]) == 2
    assert main(["--home", str(home), "process-requests"]) == 2
    monkeypatch.undo()
    for name, value in paths.environment().items():
        monkeypatch.setenv(name, value)
    (paths.state / "requests.sqlite").mkdir()  # SQLite says only "unable to open database file"
    assert main(["--home", str(home), "requests"]) == 2
    from privacy.exceptions import KeyFileError
    from privacy.keystore import KeyStore
    from privacy.masterkey import master_key_from_env

    master = master_key_from_env(paths.environment())
    paths.keystore.mkdir()
    with pytest.raises(KeyFileError, match="key store .*keystore.sqlite cannot be read and written .*KLANTKLUIS_KEY_DIR"):
        KeyStore(paths.keystore, master)
    out = capsys.readouterr()
    assert out.err.count(f"state folder {paths.state} cannot be written (Read-only file system)") == 2
    assert f"request ledger {paths.state / 'requests.sqlite'} cannot be read and written" in out.err
    assert "Traceback" not in out.out + out.err


def test_a_wal_left_beside_a_restored_warehouse_gets_one_line_naming_it(home, capsys):
    # a restore put back warehouse.duckdb, but the lost file's .wal stayed beside it
    warehouse = Paths.from_home(home).warehouse
    con = duckdb.connect(str(warehouse))
    con.execute("create schema raw; create table raw.t as select range as id from range(10)")
    con.close()
    shutil.copy(warehouse, home / "backup.duckdb")
    con = duckdb.connect(str(warehouse))
    con.execute("pragma disable_checkpoint_on_shutdown")
    con.execute("delete from raw.t where id = 1")
    con.close()
    restored = duckdb.connect(str(home / "backup.duckdb"))
    restored.execute("delete from raw.t where id < 5")  # the backup's file differs from the lost one
    restored.execute("checkpoint")
    restored.close()
    shutil.move(home / "backup.duckdb", warehouse)
    assert (home / "warehouse.duckdb.wal").exists()
    assert main(["--home", str(home), "status"]) == 2
    assert main(["--home", str(home), "run"]) == 2
    out = capsys.readouterr()
    assert out.err.count("write-ahead log") == 2 and "Move warehouse.duckdb.wal out of the folder" in out.err
    assert "Traceback" not in out.out + out.err


def test_a_wrong_key_folder_for_an_installation_with_data_is_refused_before_any_work(home, monkeypatch, capsys):
    from privacy.pseudonym import pseudonymiser_from_env

    pseudonymiser_from_env(Paths.from_home(home).environment())  # the installation's first use binds its key
    wrong = home.parent / "elsewhere"
    monkeypatch.setenv("KLANTKLUIS_KEY_DIR", str(wrong))
    assert main(["--home", str(home), "run"]) == 2
    out = capsys.readouterr()
    assert out.err.count("Error:") == 1 and "was written with pseudonym key" in out.err and "KLANTKLUIS_KEY_DIR" in out.err
    assert "Traceback" not in out.out + out.err
    assert not (wrong / "pseudonym.key").exists()  # no new key was made


def test_the_summary_names_a_source_with_no_file_loaded(home):
    from orchestration.summary import render

    paths = Paths.from_home(home)
    (home / "sources.yml").write_text("leads:\n  absent: true\n")
    text = render(paths, {}, {}, [("orders", 3, 2, 1, 0)], failed=True)
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ") and line.split()}
    assert "absent: true in sources.yml" in lines["leads"]
    assert "no file loaded yet (see why the run failed, below)" in lines["nps_responses"]
    assert "adds up" in lines["orders"]
    # Onboarding review: after an erasure and a reload raw.orders held more rows than were loaded
    # (the erased customer's orders, kept anonymously), where the legend said it could only be lower.
    assert "higher\nby the orders an erasure kept anonymously" in text


def test_a_reader_that_stops_early_gets_no_traceback(home):
    """`klantkluis audit | head`: the pipe closes while the CLI still writes."""
    import subprocess
    import sys
    from datetime import datetime, timezone

    from privacy.audit import AuditLog

    log = AuditLog(Paths.from_home(home).audit_log, key_dir=Paths.from_home(home).key_dir)
    for n in range(3000):  # more than a pipe's buffer holds
        log.append("ingest_batch", now=datetime.now(timezone.utc), n=n)
    reader = subprocess.run(f"'{sys.executable}' -m orchestration.cli --home '{home}' audit | head -n 1",
                            shell=True, capture_output=True, text=True, timeout=120)
    assert reader.stdout.startswith("#1 ") and "Traceback" not in reader.stderr and "Broken pipe" not in reader.stderr


@pytest.mark.parametrize("argv", [["request", "access", "--customer", "C0000001", "--verified-by", "idin"],
                                  ["rotate-master-key"], ["process-requests"], ["register"], ["requests"]])
def test_a_mistyped_home_is_not_taken_for_a_new_installation(tmp_path, capsys, argv):
    typo = tmp_path / "typo"
    assert main(["--home", str(typo), *argv]) == 2
    said = capsys.readouterr().err
    assert f"{typo} is not a klantkluis installation" in said
    assert f"your exports in {typo / 'landing'}/<source>/ or a {typo / 'sources.yml'}" in said  # not only the demo
    assert not typo.exists()  # no inbox, key or audit log made where no sensor or run looks


def test_demo_data_never_goes_into_an_installation_pointed_at_real_files(home, capsys):
    (home / "sources.yml").write_text("orders:\n  files: exports/*.csv\n")
    assert main(["--home", str(home), "demo", "--force", "--customers", "10"]) == 0
    assert "configures this installation's own sources; no demo data written" in capsys.readouterr().out
    assert not (home / "landing").exists()


def test_demo_force_never_overwrites_exports_the_demo_did_not_write(home, capsys):
    """Onboarding review: the hint `use --force to regenerate` led a user to replace their own export."""
    own = home / "landing" / "orders" / "2026-11-01.csv"
    own.parent.mkdir(parents=True)
    own.write_text("order_id\nO1\n")
    for argv in (["demo"], ["demo", "--force"]):
        assert main(["--home", str(home), *argv, "--customers", "10"]) == 0
        assert "holds files the demo did not write (your own exports?): no demo data written" in capsys.readouterr().out
    assert own.read_text() == "order_id\nO1\n" and not (home / "truth").exists()


def test_the_demo_lands_the_two_days_before_today_so_its_marts_are_measured_from_fresh_data(home, capsys, monkeypatch):
    """BI review: a demo fixed in November 2026 made every customer look more lapsed each day it
    was run later (recency and activity windows count from the run's time)."""
    from datetime import timedelta

    from orchestration.ingest import landing_zone

    today = landing_zone.business_day()
    monkeypatch.setattr(landing_zone, "business_day", lambda at=None: today)  # one day, even across midnight
    assert main(["--home", str(home), "demo", "--customers", "10"]) == 0
    days = {p.stem for p in (home / "landing" / "orders").iterdir()}
    assert days == {str(today - timedelta(days=2)), str(today - timedelta(days=1))}
    assert f"landing days {today - timedelta(days=2)} and {today - timedelta(days=1)}" in capsys.readouterr().out
    # Diff review: a --force on a later day added a second demo of other days beside the first.
    stale = home / "landing" / "orders" / "2026-11-01.csv"
    stale.write_text("order_id\nO1\n")  # as an earlier day's demo left it
    assert main(["--home", str(home), "demo", "--force", "--customers", "10"]) == 0
    assert {p.stem for p in (home / "landing" / "orders").iterdir()} == days
    # Diff review: a first run without files creates the warehouse file; demo, which its failure advises, still runs
    duckdb.connect(str(Paths.from_home(home).warehouse)).close()
    assert main(["--home", str(home), "demo", "--force", "--customers", "10"]) == 0
    _loaded(home)  # once loaded, a new demo would load beside the old one
    assert main(["--home", str(home), "demo", "--force", "--customers", "10"]) == 2
    assert f"To start over: `rm -rf {home}`" in capsys.readouterr().out
    # UX review: once retention had emptied the landing zone, demo wrote a second demo beside the loaded one;
    # without --force (`make run`, twice) it keeps the loaded rows and lets the run go on
    for path in (home / "landing").rglob("*.*"):
        path.unlink()
    assert main(["--home", str(home), "demo", "--customers", "10"]) == 0
    assert "holds the demo's rows, loaded from files since removed after their retention" in capsys.readouterr().out
    assert main(["--home", str(home), "demo", "--force", "--customers", "10"]) == 2
    assert "holds loaded rows; demo files would be loaded beside them" in capsys.readouterr().out
    assert not any(p.is_file() for p in (home / "landing").rglob("*"))
    shutil.rmtree(home / "truth")  # not a demo installation: real rows loaded from exports since removed
    assert main(["--home", str(home), "demo", "--customers", "10"]) == 2
    assert "Use another --home for the demo." in capsys.readouterr().out
    assert "klantkluis --home" not in no_files_message(Paths.from_home(home), "orders", loaded_before=True)
    assert f"klantkluis --home {home} demo" in no_files_message(Paths.from_home(home), "orders", loaded_before=False)


def _loaded(home) -> None:
    """A warehouse whose load ledger records one loaded file."""
    from orchestration.ingest.schema import ensure_raw_tables
    from orchestration.settings import connect_duckdb

    Paths.from_home(home).warehouse.unlink(missing_ok=True)
    with connect_duckdb(Paths.from_home(home).warehouse) as con:
        ensure_raw_tables(con, [])
        con.execute("insert into raw._batches values ('b1', 'orders', 'f.csv', 'x', 1, 1, 0, 0, "
                    "'2026-02-01 00:00:00+00', null, null, null, null)")


def _broken_policy(tmp_path, monkeypatch, wrong: str = "    duration: 365\n    anchor: occurred_at"):
    import privacy.policy

    path = tmp_path / "policy.yml"
    path.write_text(privacy.policy.DEFAULT_POLICY.read_text().replace("    duration_days: 365\n    anchor: occurred_at",
                                                                      wrong))
    monkeypatch.setattr(privacy.policy, "DEFAULT_POLICY", path)


@pytest.mark.parametrize("argv", [["run"], ["register"], ["process-requests"]])
def test_a_mistake_in_the_policy_stops_a_command_with_one_line_before_any_work(home, tmp_path, monkeypatch, capsys,
                                                                                argv):
    """Review: a misspelt duration_days was read as 0 days and the run deleted every call note;
    a mis-indented line gave tracebacks in every step."""
    (home / "landing").mkdir()  # an installation
    _broken_policy(tmp_path, monkeypatch)
    assert main(["--home", str(home), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("Error: The policy file ") and "unknown key 'duration'" in captured.err
    assert "Traceback" not in captured.out + captured.err
    assert not (Paths.from_home(home).dagster_home / "storage").exists()  # no run started


def test_a_misspelt_anchor_stops_a_run_before_any_work(home, tmp_path, monkeypatch, capsys):
    """Diff review: it passed the file's check and failed every ingest step after its load."""
    _broken_policy(tmp_path, monkeypatch, "    duration_days: 365\n    anchor: ocurred_at")
    assert main(["--home", str(home), "run"]) == 2
    assert "anchor 'ocurred_at' is not a column of raw.interactions" in capsys.readouterr().err
    assert not (Paths.from_home(home).dagster_home / "storage").exists()  # no run started


def test_a_run_more_than_a_day_ahead_needs_simulate(home, capsys):
    """Review: a mistyped --as-of year swept a live installation for real (rows and landing files)."""
    from datetime import datetime, timedelta, timezone

    ahead = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0).isoformat()
    assert main(["--home", str(home), "run", "--as-of", ahead]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"Error: --as-of {ahead} is 2 day(s) ahead of now") and "--simulate" in captured.err
    assert not (Paths.from_home(home).dagster_home / "storage").exists()  # no run started
    assert main(["--home", str(home), "run", "--as-of", ahead, "--simulate"]) == 2  # security review: not a demo
    captured = capsys.readouterr()
    assert captured.err.startswith(f"Error: {home} is not a demo installation") and "data/sim demo" in captured.err
    assert not (Paths.from_home(home).dagster_home / "storage").exists()
    Paths.from_home(home).truth.mkdir()  # what `klantkluis demo` writes beside its landing files
    tomorrow = (datetime.now(timezone.utc) + timedelta(hours=20)).isoformat()
    for argv in (["--as-of", ahead, "--simulate"], ["--as-of", tomorrow]):  # past this check: no landing files yet
        assert main(["--home", str(home), "run", *argv]) == 1
        assert "No landing files for orders" in capsys.readouterr().out


def test_an_as_of_that_is_not_a_time_gets_argparses_one_line(home, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--home", str(home), "run", "--as-of", "tomorrow"])
    assert stop.value.code == 2
    assert "'tomorrow' is not a time: write it in ISO 8601" in capsys.readouterr().err


def test_a_run_without_the_dbt_manifest_parses_the_project_first(tmp_path, monkeypatch, capsys):
    """Review: after `make clean` (or a checkout run without make) `klantkluis run` ended in
    DagsterDbtManifestNotFoundError; a project that does not parse is one line naming dbt parse."""
    import orchestration.project as project
    from dagster_dbt import DbtProject

    copy = tmp_path / "dbt_project"
    shutil.copytree(project.dbt_project.project_dir, copy, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(project, "dbt_project", DbtProject(project_dir=copy, profiles_dir=copy))
    assert project.manifest_problem() is None and (copy / "target" / "manifest.json").is_file()
    assert "Preparing the dbt manifest (dbt parse)" in capsys.readouterr().out
    shutil.rmtree(copy / "target")
    (copy / "models" / "broken.sql").write_text("select {{ 1")  # unclosed Jinja
    assert project.manifest_problem() == (f"the dbt project in {copy} does not parse, so no run can start: "
                                          f"`cd {copy} && dbt parse --profiles-dir .` shows why")


def test_a_run_after_a_model_was_added_parses_the_project_again(tmp_path, monkeypatch, capsys):
    """Review (BI): a mart added to the dbt project, then `klantkluis run` without `make`, ended in
    KeyError 'model.klantkluis.<mart>' from dagster-dbt (the manifest was the one before), and the
    dbt process went on holding the warehouse; now a manifest older than a project file is parsed anew."""
    import json
    import os

    import orchestration.project as project
    from dagster_dbt import DbtProject

    copy = tmp_path / "dbt_project"
    shutil.copytree(project.dbt_project.project_dir, copy, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(project, "dbt_project", DbtProject(project_dir=copy, profiles_dir=copy))
    assert project.manifest_problem() is None
    manifest = copy / "target" / "manifest.json"
    capsys.readouterr()
    assert project.manifest_problem() is None and capsys.readouterr().out == ""  # current: not parsed again
    added = copy / "models" / "marts" / "segmentation" / "my_new_mart.sql"
    added.write_text("select 1 as n\n")
    later = manifest.stat().st_mtime + 5
    os.utime(added, (later, later))
    assert project.manifest_problem() is None
    assert "Preparing the dbt manifest (dbt parse)" in capsys.readouterr().out
    assert "model.klantkluis.my_new_mart" in json.loads(manifest.read_text())["nodes"]


def test_a_failed_check_lists_its_first_findings_in_the_summary():
    """Review: a misspelt retention rule in the classification ended the run with only
    `check privacy/register:classification_complete: failed`; the findings were in the UI alone."""
    from dagster import AssetCheckEvaluation, AssetKey, MetadataValue

    from orchestration.pipeline import failed_check

    findings = [f"- raw.orders.col{i}: retention rule 'orders_typo' is not in the policy" for i in range(7)]
    check = AssetCheckEvaluation(asset_key=AssetKey(["privacy", "register"]), check_name="classification_complete",
                                 passed=False, metadata={"details": MetadataValue.md("\n".join(findings))})
    assert failed_check(check) == [
        "  check privacy/register:classification_complete: failed",
        *[f"    {f}" for f in findings[:5]],
        "    and 2 more (the check's details in the Dagster UI)"]
    assert len(failed_check(AssetCheckEvaluation(asset_key=AssetKey("x"), check_name="y", passed=False))) == 1


def test_the_production_services_start_with_the_installations_environment(home, monkeypatch, capsys):
    """A daemon started by hand lacked KLANTKLUIS_HOME (every sensor tick failed) and, on a new
    home, the one-run-at-a-time queue; `klantkluis daemon` and `webserver` set both."""
    import os

    started = []

    def execv(program, argv):  # what the process would become
        started.append((argv, os.environ["KLANTKLUIS_HOME"], os.environ["DAGSTER_HOME"], os.getcwd()))
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", execv)
    monkeypatch.chdir(home)
    assert main(["--home", str(home / "nowhere"), "daemon"]) == 2  # a mistyped home: not an installation
    (home / "landing").mkdir()
    for command in (["daemon"], ["webserver", "--host", "0.0.0.0", "--port", "8080"]):
        with pytest.raises(SystemExit):
            main(["--home", str(home), *command])
    (daemon, *_), (webserver, *_) = started
    assert daemon[1:] == ["run", "-m", "orchestration.definitions"] and daemon[0].endswith("dagster-daemon")
    assert webserver[1:] == ["-h", "0.0.0.0", "-p", "8080", "-m", "orchestration.definitions"]
    assert {s[1] for s in started} == {str(home)} and {s[2] for s in started} == {str(home / "dagster")}
    assert "max_concurrent_runs: 1" in (home / "dagster" / "dagster.yaml").read_text()
    assert "Running the Dagster daemon" in capsys.readouterr().out


def test_a_full_disk_is_one_line_naming_the_fix_not_dagsters_storage_traceback(home, monkeypatch, capsys):
    """Operations review: a second attempt on a still-full disk ended in a traceback of Dagster's
    run storage (SQLAlchemy's OperationalError around SQLite's "database or disk is full")."""
    import errno
    import sqlite3

    import orchestration.cli as cli
    from sqlalchemy.exc import OperationalError

    def full(args, paths):  # where Dagster's storage raises it: writing the run's events
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as exc:
            raise OperationalError("INSERT INTO event_logs ...", {}, exc) from exc

    (home / "landing").mkdir()
    monkeypatch.setattr(cli, "_status", full)
    assert main(["--home", str(home), "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: the disk is full. Free space on it (`df -h") and "klantkluis status` again" in err
    assert "Traceback" not in err and "INSERT" not in err

    def no_space(args, paths):
        raise OSError(errno.ENOSPC, "No space left on device", str(home / "state" / "built_through"))

    monkeypatch.setattr(cli, "_status", no_space)
    assert main(["--home", str(home), "status"]) == 2
    assert "the disk is full (writing " in capsys.readouterr().err

    def other(args, paths):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(cli, "_status", other)
    with pytest.raises(PermissionError):  # not a full disk: not dressed up as one
        main(["--home", str(home), "status"])


def test_a_source_declared_without_an_expectation_suite_stops_a_run_naming_the_fix(home, monkeypatch, capsys):
    """New-source walkthrough: a raw table declared in the dbt YAML but not in expectations/suites.py
    ran ingest and failed its step with `unknown landing source ...; known: ...`, naming no fix."""
    from expectations import suites

    monkeypatch.delitem(suites._BUILDERS, "interactions")
    monkeypatch.delitem(suites.ID_COLUMNS, "interactions")
    assert main(["--home", str(home), "run"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("Error: unknown landing source 'interactions': it has no expectation suite. In "
                           "expectations/suites.py, add its landing columns to SOURCES, its record id column to "
                           "ID_COLUMNS and a function with its rules to _BUILDERS (lacking: ID_COLUMNS, _BUILDERS; "
                           "README: Add a source).")
    assert not (Paths.from_home(home).dagster_home / "storage").exists()  # no run started
