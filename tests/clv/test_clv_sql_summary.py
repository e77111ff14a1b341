"""The DuckDB summary SQL: reproduces the published CDNOW summary and its estimates."""
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.clv import bgnbd, gamma_gamma, summarise, summary_sql


def test_sql_summary_equals_published_summary(sql_summary, cdnow_summary):
    assert len(sql_summary) == 2357
    m = cdnow_summary.merge(sql_summary, on="subject_id", suffixes=("_pub", "_sql"))
    assert len(m) == 2357
    assert (m["frequency_pub"] == m["frequency_sql"]).all()
    # the published file is the same data rounded to two decimals
    for col in ("recency", "T", "monetary_value"):
        assert np.abs(m[f"{col}_pub"] - m[f"{col}_sql"]).max() <= 0.005 + 1e-9, col
    assert sql_summary["T"].max() == pytest.approx(272 / 7)  # 1997-01-01 .. 1997-09-30


def test_fit_on_sql_summary_meets_published_numbers(sql_summary, published):
    s = sql_summary
    bg = bgnbd.fit(s["frequency"], s["recency"], s["T"])
    for name, value in published["bgnbd"].items():
        assert getattr(bg, name) == pytest.approx(value, abs=0.005), name
    assert bg.log_likelihood == pytest.approx(published["ll"], abs=0.5)
    gg = gamma_gamma.fit(s["frequency"], s["monetary_value"])
    for name, value in published["gg"].items():
        assert getattr(gg, name) == pytest.approx(value, abs=0.02), name


def test_definitions_on_a_small_example():
    d = dt.date
    tx = pd.DataFrame({
        "subject_id": [1, 1, 1, 1, 1, 2, 3],
        "order_date": [d(2024, 1, 1), d(2024, 1, 1), d(2024, 1, 8), d(2024, 1, 22),
                       d(2024, 2, 1), d(2024, 1, 15), d(2024, 2, 1)],
        "amount": [10.0, 5.0, 20.0, 40.0, 99.0, 7.0, 1.0],
    })
    con = duckdb.connect()
    con.register("tx", tx)
    out = summarise(con, "tx", "2024-01-29", days_per_period=7).set_index("subject_id")
    con.close()
    # customer 3 first bought after the calibration end: not in the calibration summary
    assert list(out.index) == [1, 2]
    # same-day purchases are one transaction; the one after 2024-01-29 is ignored
    assert out.loc[1].to_dict() == pytest.approx(
        {"frequency": 2, "recency": 3.0, "T": 4.0, "monetary_value": 30.0})
    assert out.loc[2].to_dict() == pytest.approx(
        {"frequency": 0, "recency": 0.0, "T": 2.0, "monetary_value": 0.0})


def test_summary_sql_validates_parameters():
    assert "date '1997-09-30'" in summary_sql("t", dt.date(1997, 9, 30))
    with pytest.raises(ValueError):
        summary_sql("t", "30-09-1997")
    with pytest.raises(ValueError):
        summary_sql("t", "1997-09-30", days_per_period=0)
