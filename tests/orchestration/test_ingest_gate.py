"""The blocking `expectations` gate judges each current landing file on its latest load, so a file
that failed it fails it again when the unchanged file is skipped, until the file is fixed."""


import pytest
from dagster import AssetKey, DagsterInstance, materialize

from orchestration.assets.ingest import build_ingest_asset
from orchestration.resources import KlantkluisResource

pytestmark = pytest.mark.slow
HEADER = "order_id,customer_id,order_date,amount,margin,product_category,channel,payment_method\n"
GOOD = "O{n:07d},C{n:07d},2026-01-0{d},10.00,2.00,books,web,ideal\n"


def _ingest_orders(home, as_of: str = "2026-02-01T00:00:00+00:00"):
    from orchestration.definitions import SOURCES

    asset = build_ingest_asset(next(t for t in SOURCES if t.name == "orders"))
    with DagsterInstance.ephemeral() as instance:
        return materialize([asset], resources={"klantkluis": KlantkluisResource(home=str(home))},
                           instance=instance, raise_on_error=False, tags={"klantkluis/as_of": as_of})


@pytest.fixture
def landing(tmp_path, monkeypatch):
    """The orders landing folder of an installation in tmp_path."""
    monkeypatch.setenv("KLANTKLUIS_HOME", str(tmp_path))
    monkeypatch.delenv("KLANTKLUIS_KEY_DIR", raising=False)
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    return folder


def _orders_gate(home) -> tuple[bool, dict]:
    result = _ingest_orders(home)
    [check] = [e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey(["raw", "orders"])]
    return check.passed, check.metadata


def test_a_failed_file_keeps_failing_the_gate_until_it_is_fixed(tmp_path, landing):
    (landing / "2026-01-01.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 9)))
    bad = landing / "2026-01-02.csv"  # 3 of 4 rows have an amount that is no amount: 75 % quarantined
    bad.write_text(HEADER + GOOD.format(n=20, d=2) + "".join(
        GOOD.format(n=n, d=2).replace("10.00", "ten") for n in range(21, 24)))
    passed, metadata = _orders_gate(tmp_path)
    assert not passed and "2026-01-02.csv: 75.0%" in metadata["files_over_max_share"].value
    passed, _ = _orders_gate(tmp_path)  # nothing changed: both files skipped, the gate still fails
    assert not passed
    bad.write_text(HEADER + "".join(GOOD.format(n=n, d=2) for n in range(20, 24)))
    passed, metadata = _orders_gate(tmp_path)
    assert passed and metadata["quarantined_share"].value == 0.0


def test_a_run_earlier_than_the_last_load_is_refused(tmp_path, landing):
    (landing / "2026-01-01.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 5)))
    assert _ingest_orders(tmp_path).success
    assert _ingest_orders(tmp_path).success  # the same time again is fine: batch ids order the loads
    earlier = _ingest_orders(tmp_path, "2026-01-31T23:00:00+00:00")
    [failure] = [e for e in earlier.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "before the last load of orders at 2026-02-01" in message and "--as-of" in message
