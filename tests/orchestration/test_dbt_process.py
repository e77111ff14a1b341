"""A dbt build left running by a killed run (ops review): it held the warehouse, so the next run was refused."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestration.settings import Paths, WarehouseBusy, connect_duckdb

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes in /proc (Linux)")

# Stands in for `klantkluis run` in its dbt step: starts a "dbt" that takes the warehouse (DuckDB's
# write lock) and reads its output with build_events, as the dbt asset does, until it is killed.
RUN = textwrap.dedent("""
    import subprocess, sys
    from types import SimpleNamespace
    from orchestration.assets.dbt import build_events
    from orchestration.settings import Paths
    paths = Paths.from_home(sys.argv[1])
    dbt = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                            "print('building', flush=True); time.sleep(120)", str(paths.warehouse)],
                           stdout=subprocess.PIPE, text=True)
    print(dbt.pid, flush=True)
    def stream():
        for line in dbt.stdout:
            print(line, end="", flush=True)
            yield line
    build_events(SimpleNamespace(stream=stream, process=dbt), paths)
""")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _killed_run_mid_build(paths: Paths) -> int:
    """Kill -9 the stand-in run while its dbt builds; the id of the dbt it leaves running."""
    run = subprocess.Popen([sys.executable, "-c", RUN, str(paths.home)], stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        dbt = int(run.stdout.readline())
        assert run.stdout.readline() == "building\n"
    finally:
        run.kill()
        run.wait()
    deadline = time.monotonic() + 10
    while _parent(dbt) == run.pid and time.monotonic() < deadline:
        time.sleep(0.05)
    return dbt


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_the_next_run_ends_a_dbt_build_a_killed_run_left_holding_the_warehouse(tmp_path, monkeypatch, capsys):
    """`kill -9` of `klantkluis run` (or an out-of-memory kill) during its dbt step left dbt running
    without it: dbt held the warehouse (DuckDB's one writer), so the next `klantkluis run` stopped on
    "in use by another process (PID n)" and each step of a run from the UI waited and retried, while
    the orphan wrote marts no run recorded. The next run (and any step that finds the warehouse held)
    now ends a build whose run is gone, and says so."""
    from orchestration import pipeline
    from orchestration.resources import KlantkluisResource

    paths = Paths.from_home(tmp_path)
    for name, value in paths.environment().items():
        monkeypatch.setenv(name, value)
    paths.state.mkdir(parents=True)
    dbt = _killed_run_mid_build(paths)
    try:
        assert _alive(dbt)
        with pytest.raises(WarehouseBusy):  # what the next run met
            connect_duckdb(paths.warehouse).close()
        monkeypatch.setattr(pipeline, "_run_days", lambda *args: 0)  # the run itself is not what is tested
        assert pipeline.run_full_refresh(paths) == 0
        assert not _alive(dbt)
        out = capsys.readouterr().out
        assert f"Ended the dbt build (process {dbt}) of a run that was stopped" in out
        connect_duckdb(paths.warehouse).close()
        dbt = _killed_run_mid_build(paths)  # a step of a run from the UI or a schedule
        with KlantkluisResource(home=str(tmp_path)).connect() as con:
            assert con.execute("select 1").fetchone() == (1,)
        assert not _alive(dbt)
    finally:
        if _alive(dbt):
            os.kill(dbt, signal.SIGKILL)


def test_a_dbt_build_whose_run_is_alive_is_left_alone(tmp_path):
    """Only a build whose run process has gone is ended: one still read by its run is that run's."""
    from types import SimpleNamespace

    from orchestration.assets.dbt import build_events
    from orchestration.dbt_process import end_orphaned_dbt

    paths = Paths.from_home(tmp_path)
    paths.state.mkdir(parents=True)
    dbt = subprocess.Popen([sys.executable, "-c", "import time; print('building', flush=True); time.sleep(60)"],
                           stdout=subprocess.PIPE, text=True)

    def stream():
        yield dbt.stdout.readline()
        assert end_orphaned_dbt(paths.state) is None and dbt.poll() is None  # its run (this process) is alive
        dbt.kill()

    try:
        assert build_events(SimpleNamespace(stream=stream, process=dbt), paths) == (["building\n"], None)
        assert end_orphaned_dbt(paths.state) is None  # the build ended: nothing recorded
    finally:
        dbt.kill()
        dbt.wait()


def test_a_build_that_ends_leaves_the_record_of_a_build_started_since(tmp_path):
    """Diff review: in the moment between one run's busy check and its dbt's start, a second build's
    record replaced the first's, and the first build's end deleted it: had the second run been
    killed then, its dbt would have gone on holding the warehouse."""
    from orchestration.dbt_process import DBT_PROCESS, forget_dbt_process, note_dbt_process

    state = tmp_path / "state"
    note_dbt_process(state, os.getpid())  # the build started since (this process stands in for its dbt)
    forget_dbt_process(state, os.getpid() + 1)  # the earlier build's dbt ends
    assert (state / DBT_PROCESS).read_text().split()[0] == str(os.getpid())
    forget_dbt_process(state, os.getpid())
    assert not (state / DBT_PROCESS).exists()
