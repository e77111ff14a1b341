"""CDNOW through the path a user's own orders file takes, in an installation with an order system
alone: Parquet + column mapping -> ingest -> staging -> CLV summary (dbt SQL) -> maximum-likelihood
fit (dbt Python model) -> the marts, every source but orders marked absent.

Published: BG/NBD r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4 (Fader, Hardie & Lee 2005);
Gamma-Gamma p=6.25, q=3.74, gamma=15.44 (Fader & Hardie 2013).
"""

import json
import os
from importlib.resources import files

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance

from orchestration.clv.bench import CDNOW_PARAMS

pytestmark = pytest.mark.slow


def _user_export(folder) -> None:
    """The CDNOW sample as a shop would export it: its own column names, typed Parquet."""
    raw = files("lifetimes") / "datasets" / "CDNOW_sample.txt"
    df = pd.read_csv(raw, sep=r"\s+", header=None, names=["master", "customer", "date", "cds", "dollars"])
    folder.mkdir(parents=True)
    pq.write_table(pa.table({
        "OrderNo": [f"T{i:06d}" for i in range(len(df))],
        "CustomerNo": df["customer"].astype(str),
        "OrderDate": pd.to_datetime(df["date"].astype(str), format="%Y%m%d").dt.date,
        "Revenue": df["dollars"].astype(float),
    }), folder / "cdnow.parquet")


def test_cdnow_reproduces_the_published_fits(tmp_path):
    from orchestration.definitions import defs

    _user_export(tmp_path / "exports")
    absent = "".join(f"{s}:\n  absent: true\n" for s in ("crm_customers", "leads", "consent_events", "interactions",
                                                          "nps_responses"))
    (tmp_path / "sources.yml").write_text(  # an order system alone: every customer with orders counts
        "orders:\n  files: exports/*.parquet\n  columns:\n"
        "    order_id: OrderNo\n    customer_id: CustomerNo\n    order_date: OrderDate\n    amount: Revenue\n" + absent)
    os.environ["KLANTKLUIS_HOME"] = str(tmp_path)
    os.environ.pop("KLANTKLUIS_KEY_DIR", None)
    job = defs.resolve_job_def("full_refresh")
    tags = {"klantkluis/as_of": "1998-07-01T00:00:00+00:00",
            "klantkluis/dbt_vars": json.dumps({"clv_calibration_end": "1997-09-30"})}
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, tags=tags, resources=defs.resources)
    assert result.success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        loaded, quarantined = con.execute("select sum(loaded), sum(quarantined) from raw._batches").fetchone()
        fitted = {(m, p): v for m, p, v in con.execute(
            "select model, parameter, value from intermediate.int_clv_parameters_fitted").fetchall()}
        clv = con.execute("select count(*), count(distinct relationship), min(relationship), count(p_alive), "
                          "sum(predicted_revenue) from marts.customer_clv").fetchone()
    assert clv[:4] == (2357, 1, "unknown", 2357) and clv[4] > 0  # no CRM: the models' predictions stand
    assert (loaded, quarantined) == (6919, 0)
    for name, published in CDNOW_PARAMS.items():
        assert fitted[("bgnbd", name)] == pytest.approx(published, abs=0.005), name
    assert fitted[("bgnbd", "log_likelihood")] == pytest.approx(-9582.4, abs=0.5)
    assert fitted[("bgnbd", "n")] == 2357
    for name, published in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert fitted[("gamma_gamma", name)] == pytest.approx(published, abs=0.02), name
