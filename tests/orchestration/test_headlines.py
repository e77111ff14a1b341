"""The marts' headline figures (meta.headline): run summary and Dagster metadata, aggregates only."""

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from orchestration.headlines import HeadlineError, figures
from orchestration.project import manifest_nodes
from orchestration.settings import Paths
from orchestration.summary import render


def _node(name, headline, columns=("share", "n")):
    return {"name": name, "schema": "marts", "alias": name, "resource_type": "model",
            "meta": {"headline": headline}, "columns": {c: {} for c in columns}}


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.share as select 0.625::decimal(9,3) as share, 12 as n, "
                "date '2026-11-01' as period, null::double as nps, 'Jansen' as note")
    return con


def test_a_headline_gives_the_first_rows_numbers_as_numbers_and_dates_as_text(con):
    node = _node("share", "select share, n, period, nps from {this}")
    assert figures(con, node) == {"share": 0.625, "n": 12, "period": "2026-11-01"}  # a null is left out
    assert isinstance(figures(con, node)["share"], float) and not isinstance(figures(con, node)["share"], Decimal)
    assert figures(con, _node("share", "select n from {this} where n > 99")) == {}  # no row: no figures
    assert figures(con, {**_node("share", ""), "meta": {}}) == {}


def test_a_mart_with_a_row_per_person_gets_no_headline_and_a_failed_query_names_no_value(con):
    with pytest.raises(HeadlineError, match="subject_id has a row per person"):
        figures(con, _node("share", "select n from {this}", columns=("subject_id", "n")))
    with pytest.raises(HeadlineError, match=r"customer_rfm.*failed \(ConversionException\)") as failed:
        figures(con, _node("customer_rfm", "select cast(note as integer) from marts.share"))
    assert "Jansen" not in str(failed.value)  # DuckDB's own message quotes the value


def test_every_headline_of_the_project_is_on_an_aggregate_mart():
    headlines = {n["name"]: n for n in manifest_nodes().values() if n["meta"].get("headline")}
    assert {"pareto_share", "nps_by_period", "source_freshness"} <= set(headlines)
    for node in headlines.values():
        assert "subject_id" not in node["columns"] and "{this}" in node["meta"]["headline"], node["name"]


def test_the_summary_shows_the_key_figures_readably(tmp_path):
    paths = Paths.from_home(tmp_path)
    args = (paths, {"marts": {"pareto_share": 1}}, {}, [])
    found = {"pareto_share": {"pareto_share": 0.61234, "active_customers": 812, "revenue_window": 1234567.891},
             "nps_by_period": {"latest_complete_period": date(2026, 10, 1).isoformat(), "nps": 23.4}}
    text = render(*args, headlines=found)
    assert "  pareto_share           pareto_share 0.612  active_customers 812  revenue_window 1,234,567.89" in text
    assert "latest_complete_period 2026-10-01  nps 23.4" in text
    assert "Key figures" not in render(*args) and "Key figures" not in render(*args, headlines=found, failed=True)
