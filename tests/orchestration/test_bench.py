"""`python -m orchestration.bench` runs end to end at a tiny scale and writes its JSON results."""

import json
import os

import pytest

from orchestration.bench.__main__ import main

pytestmark = pytest.mark.slow


def test_bench_runs_every_part_and_writes_json(tmp_path, monkeypatch, capsys):
    for var in ("KLANTKLUIS_HOME", "KLANTKLUIS_KEY_DIR", "DAGSTER_HOME", "DBT_SEND_ANONYMOUS_USAGE_STATS", "PATH"):
        monkeypatch.setenv(var, os.environ.get(var, ""))  # the bench sets them; restored afterwards
    out = tmp_path / "bench.json"
    assert main(["--customers", "300", "--probe", "0", "--home", str(tmp_path / "bench"), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    runs = result["pipeline"]["runs"]
    assert [r["label"] for r in runs] == ["day 1 (full load)", "day 2 (incremental)", "day 2 (full reload)"]
    assert all(r["success"] for r in runs)
    ingested = [sum(s["rows"] or 0 for s in r["steps"] if s["stage"].startswith("ingest ")) for r in runs]
    assert 0 < ingested[1] < ingested[0] < ingested[2]  # the reload loads day 1's files again, and day 2's
    assert result["floor"]["raw_rows"]["orders"] > 0
    assert set(result["ingest_direct"]) == {"encrypting", "not encrypting"}
    assert result["clv"]["ours"]["bgnbd"]["r"] > 0
    assert result["rights"]["access"]["status"] == result["rights"]["erasure"]["status"] == "completed"
    targets = result["targets"]
    assert {"pipeline_vs_floor", "encryption_overhead", "access_export_s", "erasure_immediate_s",
            "peak_memory_gib", "generate_s", "day_2_incremental_vs_full_reload"} <= set(targets)
    printed = capsys.readouterr().out
    assert "floor (plain DuckDB)" in printed and "Targets (issue 8)" in printed
    assert not (tmp_path / "bench" / "floor").exists() and not (tmp_path / "bench" / "bench-direct").exists()
