"""The marts' headline figures (meta.headline): run summary and Dagster metadata, aggregates only."""

from datetime import date

import duckdb
import pytest

from orchestration.headlines import HeadlineError, figures
from orchestration.project import manifest_nodes
from orchestration.settings import Paths
from orchestration.summary import render


def _node(headline, name="share"):
    return {"name": name, "schema": "marts", "alias": name, "resource_type": "model", "meta": {"headline": headline},
            "columns": {}}


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.share as select 0.625::decimal(9,3) as share, 12 as n, date '2026-11-01' as period, "
                "null::double as nps, 'Jansen' as note, interval 2 days as lag, uuid() as id")
    con.execute("create table marts.customer_rfm as select 'a' || range as subject_id, range as monetary from range(3)")
    return con


def test_a_headline_gives_its_row_numbers_as_numbers_times_as_text_and_durations_in_seconds(con):
    found = figures(con, _node("select share, n, period, nps, lag from {this}"))
    assert found == {"share": 0.625, "n": 12, "period": "2026-11-01", "nps": None, "lag": 172800.0}
    assert type(found["share"]) is float  # not Decimal: Dagster plots a float
    assert figures(con, _node("select n from {this} where n > 99")) == {}  # no row: no figures
    assert figures(con, {**_node(""), "meta": {}}) == {}


def test_a_headline_reads_its_own_aggregate_mart_and_tells_no_value(con):
    """Diff review: a headline on an aggregate mart could select another mart's pseudonyms and revenue."""
    for query in ("select subject_id, monetary from marts.customer_rfm",
                  "select (select max(monetary) from marts.customer_rfm) as m from {this}",
                  "select * from read_csv('landing/crm_customers/2026-11-01.csv')",
                  "select n from {this}; select 1", "select n from"):
        with pytest.raises(HeadlineError, match="left out: its meta.headline"):
            figures(con, _node(query))
    with pytest.raises(HeadlineError, match="subject_id has a row per person"):  # its actual columns, not its YAML
        figures(con, _node("select count(*) as n from {this}", name="customer_rfm"))
    with pytest.raises(HeadlineError, match=r"share.*failed \(ConversionException\)") as failed:
        figures(con, _node("select cast(note as integer) as n from {this}"))
    assert "Jansen" not in str(failed.value)  # DuckDB's own message quotes the value
    with pytest.raises(HeadlineError, match="more than one row"):
        figures(con, _node("select n from {this} union all select n + 1 from {this}"))
    with pytest.raises(HeadlineError, match="column id is a UUID"):  # Dagster's metadata would refuse it
        figures(con, _node("select id from {this}"))


def test_every_headline_of_the_project_is_on_an_aggregate_mart():
    headlines = {n["name"]: n for n in manifest_nodes().values() if n["meta"].get("headline")}
    assert {"pareto_share", "nps_by_period", "source_freshness"} <= set(headlines)
    for node in headlines.values():
        assert "subject_id" not in node["columns"] and "{this}" in node["meta"]["headline"], node["name"]


def test_without_the_dbt_manifest_there_are_no_figures_and_no_traceback(con, monkeypatch, tmp_path):
    """`klantkluis status` on a warehouse whose project lost its target/ folder."""
    from orchestration.headlines import all_figures
    from orchestration.project import dbt_project

    monkeypatch.setattr(type(dbt_project), "manifest_path", property(lambda self: tmp_path / "gone.json"))
    manifest_nodes.cache_clear()
    assert all_figures(con) == {}


def test_the_summary_shows_the_key_figures_readably(tmp_path):
    paths = Paths.from_home(tmp_path)
    args = (paths, {"marts": {"pareto_share": 1}}, {}, [])
    found = {"pareto_share": {"pareto_share": 0.61234, "active_customers": 812, "revenue_window": 1234567.891},
             "nps_by_period": {"latest_complete_period": date(2026, 10, 1).isoformat(), "nps": None, "responses": 0}}
    text = render(*args, headlines=found)
    assert "  pareto_share           pareto_share 0.612  active_customers 812  revenue_window 1,234,567.89" in text
    assert "latest_complete_period 2026-10-01  nps n/a  responses 0" in text  # a period without responses
    assert "Key figures" not in render(*args) and "Key figures" not in render(*args, headlines=found, failed=True)
