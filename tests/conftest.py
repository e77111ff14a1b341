"""Shared fixtures: the dbt manifest must exist before `orchestration.definitions` is imported."""

import os
import subprocess
import sys
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
