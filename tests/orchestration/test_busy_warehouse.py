"""A step that finds the warehouse held by another process (a `klantkluis` command, an erasure
compacting the file) waits and tries again, instead of failing a scheduled run."""

import pytest
from dagster import DagsterEventType, DagsterInstance, materialize

from orchestration.resources import KlantkluisResource
from orchestration.settings import connect_duckdb

pytestmark = pytest.mark.slow


def test_an_ingest_step_waits_for_the_warehouse_and_then_loads(tmp_path, monkeypatch, warehouse_held_elsewhere):
    from orchestration.assets.ingest import build_ingest_asset
    from orchestration.definitions import SOURCES

    monkeypatch.setenv("KLANTKLUIS_HOME", str(tmp_path))
    monkeypatch.delenv("KLANTKLUIS_KEY_DIR", raising=False)
    landing = tmp_path / "landing" / "orders"
    landing.mkdir(parents=True)
    (landing / "2026-01-31.csv").write_text(
        "order_id,customer_id,order_date,amount,margin,product_category,channel,payment_method\n"
        + "".join(f"O{n:07d},C{n:07d},2026-01-0{n % 9 + 1},10.00,2.00,books,web,ideal\n" for n in range(50)))
    warehouse = tmp_path / "warehouse.duckdb"
    connect_duckdb(warehouse).close()
    asset = build_ingest_asset(next(t for t in SOURCES if t.name == "orders"))
    resource = KlantkluisResource(home=str(tmp_path), busy_wait_seconds=1)
    with warehouse_held_elsewhere(warehouse, seconds=3) as holder, DagsterInstance.ephemeral() as instance:
        result = materialize([asset], resources={"klantkluis": resource}, instance=instance, raise_on_error=False,
                             tags={"klantkluis/as_of": "2026-02-01T00:00:00+00:00"})
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert retries, "the step never found the warehouse busy: the test proves nothing"
    assert all(f"in use by another process (PID {holder.pid})" in str(e.event_specific_data.error) for e in retries)
    assert result.success
    assert result.asset_materializations_for_node(asset.op.name)[0].metadata["loaded"].value == 50
    with connect_duckdb(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from raw.orders").fetchone()[0] == 50
