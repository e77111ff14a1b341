"""Shared fixtures: the dbt manifest must exist before `orchestration.definitions` is imported."""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestration.settings import DBT_PROJECT_DIR

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def pytest_configure(config):
    if not (DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        dbt = Path(sys.executable).parent / "dbt"
        subprocess.run([str(dbt), "parse", "--profiles-dir", ".", "--quiet"], cwd=DBT_PROJECT_DIR, check=True)


@pytest.fixture(scope="session")
def tiny_landing(tmp_path_factory) -> Path:
    """A generated demo installation folder with 300 customers (landing + truth)."""
    from orchestration.demo.generate import generate

    home = tmp_path_factory.mktemp("demo")
    generate(home, customers=300, seed=7)
    return home


@contextmanager
def _held_elsewhere(path: Path, seconds: float | None = None):
    hold = "sys.stdin.read()" if seconds is None else f"time.sleep({seconds})"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
                               f"{hold}", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.communicate("")


@pytest.fixture
def warehouse_held_elsewhere():
    """`with warehouse_held_elsewhere(path[, seconds]) as process:` another process writes the DuckDB
    file at `path` (a run from the UI, a schedule, a command) until the block ends or, given
    `seconds`, until then."""
    return _held_elsewhere
