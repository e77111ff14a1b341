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
    day1, day2, reload = (r["input_rows"] for r in runs)
    assert sum(day2.values()) > 0  # day 2 loads only its own files; the reload loads every file again
    assert reload == {source: day1.get(source, 0) + day2.get(source, 0) for source in day1 | day2}
    assert result["floor"]["raw_rows"]["orders"] > 0
    assert set(result["ingest_direct"]) == {"encrypting", "not encrypting"}
    assert result["clv"]["ours"]["bgnbd"]["r"] > 0
    assert result["rights"]["access"]["status"] == result["rights"]["erasure"]["status"] == "completed"
    targets = result["targets"]
    assert {"pipeline_vs_floor", "encryption_overhead", "access_export_s", "erasure_immediate_s",
            "peak_memory_gib", "generate_s", "day_2_incremental_vs_full_reload"} <= set(targets)
    memory = targets["peak_memory_gib"]
    assert memory["met"] is (memory["pipeline_runs"] <= 4.0)  # the pipeline's peak, not the floor's
    assert 0 < memory["floor"] <= memory["whole_benchmark"] and 0 < memory["generator"] <= memory["whole_benchmark"]
    printed = capsys.readouterr().out
    assert "floor (plain DuckDB)" in printed and "Targets (issue 8)" in printed
    assert not (tmp_path / "bench" / "floor").exists() and not (tmp_path / "bench" / "bench-direct").exists()
