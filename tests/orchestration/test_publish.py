"""Publishing the marts for BI tools: atomic, private to the group, and nothing left behind."""

from datetime import datetime, timezone

import duckdb

from orchestration.publish import publish


def test_a_publication_removes_what_an_interrupted_one_left_even_in_a_folder_with_a_quote(tmp_path):
    """Crash review: a publication killed half-way left a copy of the marts, erased subjects among
    them, that no later publication removed. An installation's path may hold a quote."""
    home = tmp_path / "o'home"
    home.mkdir()
    warehouse, out = home / "warehouse.duckdb", home / "published"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create table marts.customer_rfm as select 'subject-1' as subject_id")
    out.mkdir()
    (out / ".marts-20261201T000000000000.duckdb").write_bytes(b"erased subject's row")
    (out / ".marts-20261201T000000000000.duckdb.wal").write_bytes(b"erased subject's row")
    (out / "parquet" / "v20261201T000000000000").mkdir(parents=True)
    result = publish(warehouse, out, datetime(2026, 12, 6, tzinfo=timezone.utc))
    assert result.tables == {"customer_rfm": 1}
    assert sorted(p.name for p in out.iterdir()) == [".publishing.lock", "marts.duckdb", "parquet"]
    current, version = sorted(p.name for p in (out / "parquet").iterdir())
    assert current == "current" and version.startswith("v20261206T000000000000-")
    assert oct((out / "marts.duckdb").stat().st_mode)[-3:] == "440"
    with duckdb.connect(str(out / "marts.duckdb"), read_only=True) as con:
        assert con.execute("select subject_id from customer_rfm").fetchall() == [("subject-1",)]


def test_a_second_publication_at_the_same_time_goes_to_a_new_folder(tmp_path):
    """Clock audit: `run --as-of X` twice wrote the second publication into the folder BI readers
    had open, file by file; each publication must be swapped in whole."""
    warehouse, out = tmp_path / "warehouse.duckdb", tmp_path / "published"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create table marts.pareto_share as select 0.6 as pareto_share")
    at = datetime(2026, 12, 6, tzinfo=timezone.utc)
    first = publish(warehouse, out, at).parquet_dir.resolve()
    second = publish(warehouse, out, at).parquet_dir.resolve()
    assert first != second and not first.exists() and second.name.startswith("v20261206T")
