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


def test_a_publication_says_the_time_its_marts_are_measured_from(tmp_path):
    """UI review: published/marts did not say which build's time the BI copies hold, which lags the
    latest build's while publication is refused."""
    warehouse, out = tmp_path / "warehouse.duckdb", tmp_path / "published"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create table marts.pareto_share as select 0.6 as pareto_share")
    at = datetime(2026, 12, 6, tzinfo=timezone.utc)
    assert publish(warehouse, out, at).as_of is None  # no build_info mart
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table marts.build_info as select timestamp '2026-12-05 02:00:00' as as_of")
    assert publish(warehouse, out, at).as_of == datetime(2026, 12, 5, 2)


def test_published_marts_materialized_alone_publish_nothing_a_failed_or_missing_check_did_not_pass():
    """UI review: after a build whose blocking test of a mart failed (publication stopped, as it should),
    Materialize on published/marts alone, as its staleness in the UI invites, copied that build's marts
    to the BI copies with no check run; so would a mart materialized alone, which no classification judged."""
    import time

    from dagster import AssetCheckEvaluation, AssetCheckKey, AssetKey, AssetMaterialization, DagsterInstance

    from orchestration.assets.publish import unchecked_marts

    marts = [AssetKey(["marts", "pareto_share"]), AssetKey(["marts", "marketing_audience"])]
    classification = AssetCheckKey(AssetKey(["privacy", "register"]), "classification_complete")
    consent = AssetCheckKey(marts[1], "marketing_audience_has_consent")
    gates = [classification, consent]

    def evaluate(key, passed):
        instance.report_runless_asset_event(AssetCheckEvaluation(asset_key=key.asset_key, check_name=key.name,
                                                                 passed=passed))
        time.sleep(0.01)

    def build(key):
        instance.report_runless_asset_event(AssetMaterialization(key))
        time.sleep(0.01)

    with DagsterInstance.ephemeral() as instance:
        for mart in marts:
            build(mart)
        evaluate(consent, True)
        evaluate(classification, True)
        assert unchecked_marts(instance, marts, classification, gates) is None  # a good build
        build(marts[1])
        evaluate(consent, False)  # the next build: its test failed, so the run published nothing
        problem = unchecked_marts(instance, marts, classification, gates)
        assert problem.startswith("Not published: the marts in the warehouse failed "
                                  "marts/marketing_audience:marketing_audience_has_consent in their last build")
        assert "run full_refresh" in problem
        evaluate(consent, True)  # fixed and rebuilt, but the mart was not classified since
        problem = unchecked_marts(instance, marts, classification, gates)
        assert problem.startswith("Not published: marts/marketing_audience was built after the last "
                                  "privacy/register:classification_complete check")
        evaluate(classification, False)
        assert "failed privacy/register:classification_complete" in unchecked_marts(instance, marts, classification, gates)
        evaluate(classification, True)
        assert unchecked_marts(instance, marts, classification, gates) is None
