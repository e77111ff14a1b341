"""The retention sweep in the asset graph, and three simulated years of sweeps (slow).

The years run on a tiny generated installation and are checked with SQL written here, apart from
`privacy.retention`: after each yearly run no row of the raw layer, the snapshot history, the marts
or the published copy is past its rule, while every order younger than seven years (the fiscal
duty) is still there with its subject and amounts.
"""

import os
import sqlite3
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from orchestration.demo.generate import DEFAULT_AS_OF, generate
from orchestration.resources import AS_OF_TAG, SIMULATE_TAG, THROUGH_TAG
from privacy.audit import AuditLog
from privacy.rights.warehouse import subject_relations

BASE = datetime.combine(DEFAULT_AS_OF + timedelta(days=1), datetime.min.time(), timezone.utc).replace(hour=12)
PAST = {  # (days, query): rows past retention when {cut} is now minus days
    "raw.crm_customers": (730, """select count(*) from (select subject_id, relationship_end, row_number() over (
        partition by subject_id order by exported_at desc, _source_file desc, _source_line desc) as n
        from raw.crm_customers) where n = 1 and cast(relationship_end as date) < {cut}"""),
    "raw.leads": (365, """select count(*) from (select subject_id, coalesce(last_contact_at, created_at) as anchor_at,
        row_number() over (partition by subject_id order by _source_file desc, _source_line desc) as n
        from raw.leads) where n = 1 and cast(anchor_at as date) < {cut}"""),
    "raw.interactions": (365, "select count(*) from raw.interactions where cast(occurred_at as timestamp) < {cut}"),
    "raw.nps_responses": (730, "select count(*) from raw.nps_responses where cast(responded_at as timestamp) < {cut}"),
    "raw.consent_events": (1825, "select count(*) from raw.consent_events "
                                 "where cast(occurred_at as timestamp) < {cut}"),
    "raw.orders": (2557, "select count(*) from raw.orders where cast(order_date as date) < {cut} "
                         "and subject_id not like 'anon-%'"),
    "raw._quarantine": (30, "select count(*) from raw._quarantine where loaded_at < {cut}::timestamptz"),
    "snapshots": (0, "select count(*) from snapshots.snap_crm__customers "
                     "where subject_id not in (select subject_id from raw.crm_customers)"),
}


def _run(job_name: str, now: datetime, through: str | None = None):
    from orchestration.definitions import defs

    tags = {AS_OF_TAG: now.isoformat(), SIMULATE_TAG: "true", **({THROUGH_TAG: through} if through else {})}
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(job_name).execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in (
        ev.event_specific_data for ev in result.all_events if ev.event_type == DagsterEventType.ASSET_CHECK_EVALUATION)}
    assert checks[("privacy/retention_sweep", "no_row_past_retention")]
    assert checks[("published/marts", "no_row_past_retention")]


def _past_retention(con, now: datetime) -> dict[str, int]:
    def cut(days):
        return f"timestamp '{(now - timedelta(days=days)).replace(tzinfo=None).isoformat(sep=' ')}'"

    counts = {name: con.execute(sql.format(cut=cut(days))).fetchone()[0] for name, (days, sql) in PAST.items()}
    staged = " union ".join(
        f'select subject_id from staging."{t}" where subject_id is not null' for (t,) in con.execute(
            "select distinct table_name from information_schema.columns where table_schema = 'staging' "
            "and column_name = 'subject_id'").fetchall())
    for catalog, schema, table in con.execute(
            "select distinct table_catalog, table_schema, table_name from information_schema.columns where "
            "column_name = 'subject_id' and (table_schema = 'marts' or table_catalog = 'published')").fetchall():
        counts[f"{catalog}.{table}"] = con.execute(
            f'select count(*) from "{catalog}"."{schema}"."{table}" where subject_id not in ({staged})').fetchone()[0]
    return counts


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    home = tmp_path_factory.mktemp("retention")
    generate(home, customers=200, seed=23)
    os.environ["KLANTKLUIS_HOME"] = str(home)
    os.environ.pop("KLANTKLUIS_KEY_DIR", None)
    for day in sorted(p.stem for p in (home / "landing" / "crm_customers").iterdir()):
        _run("full_refresh", BASE - timedelta(days=1) if day < BASE.date().isoformat() else BASE, through=day)
    return home


def _count(con, relation: str) -> int:
    return con.execute(f"select count(*) from {relation}").fetchone()[0]


def _orders(home):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return {r[0]: r[1:] for r in con.execute(
            "select order_id, subject_id, order_date, amount, margin from staging.stg_shop__orders").fetchall()}


def test_the_sweep_runs_after_ingest_and_before_staging_daily_with_blocking_checks():
    from orchestration.assets.retention import SWEEP_KEY
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    assert {AssetKey(["raw", "orders"]), AssetKey(["raw", "crm_customers"])} <= graph.get(SWEEP_KEY).parent_keys
    staging = {k for k in graph.get_all_asset_keys() if k.path[0] == "staging"}
    assert staging and all(SWEEP_KEY in graph.get(k).parent_keys for k in staging)
    assert SWEEP_KEY not in graph.get(AssetKey(["marts", "customer_rfm"])).parent_keys
    job = defs.resolve_job_def("retention_sweep")
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {"privacy/retention_sweep", "privacy/register", "published/marts", "snapshots/snap_crm__customers",
            "marts/customer_rfm"} <= selected and not any(k.startswith("raw/") for k in selected)
    schedule = next(s for s in defs.schedules if s.name == "retention_sweep_daily")
    assert schedule.job_name == "retention_sweep"
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("privacy/retention_sweep", "no_row_past_retention") in checks
    assert ("published/marts", "no_row_past_retention") in checks
    assert all(graph.get_check_spec(k).blocking for k in graph.asset_check_keys if k.name == "no_row_past_retention")


@pytest.mark.slow
def test_three_years_of_sweeps_leave_nothing_past_retention_and_keep_the_fiscal_records(installation):
    home = installation
    before = _orders(home)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert _count(con, "snapshots.snap_crm__customers where dbt_valid_to is not null")
        start = {t: _count(con, f"raw.{t}") for t in ("crm_customers", "interactions")}
    for years, job in ((1, "full_refresh"), (2, "retention_sweep"), (3, "retention_sweep")):
        now = BASE.replace(year=BASE.year + years)
        _run(job, now)
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            con.execute(f"attach '{home / 'published' / 'marts.duckdb'}' as published (read_only)")
            past = _past_retention(con, now)
            assert not any(past.values()), (years, {k: v for k, v in past.items() if v})
            assert any(k.startswith("published.") for k in past)
        after = _orders(home)
        assert len(after) == len(before)
        fiscal_start = (now - timedelta(days=2557)).date()
        young = {k: v for k, v in before.items() if v[1] > fiscal_start}
        assert young and all(after[k] == v for k, v in young.items())
        old = [k for k in before if k not in young]  # anonymised: subject and order id replaced by anon- tokens
        anonymised = {k: v for k, v in after.items() if k.startswith("anon-")}
        assert len(anonymised) == len(old) and all(v[0].startswith("anon-") for v in anonymised.values())
        assert sorted(v[1:] for v in anonymised.values()) == sorted(before[k][1:] for k in old)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        end = {t: _count(con, f"raw.{t}") for t in ("crm_customers", "interactions")}
    assert end["interactions"] == 0 < start["interactions"] and end["crm_customers"] < start["crm_customers"]
    log = AuditLog(home / "state" / "audit.jsonl", key_dir=home / "keys")
    assert log.verify().ok
    sweeps = [e["details"] for e in log.entries() if e["event"] == "retention_sweep"]
    assert sweeps and all(set(d) == {"table", "rule", "action", "rows", "subjects", "duration_days", "anchor"}
                          for d in sweeps)
    assert sum(d["rows"] for d in sweeps if d["table"] == "snapshots.snap_crm__customers") > 0
    # Beside the warehouse: the keys of subjects with no row left are gone, and the deleted rows'
    # bytes were rewritten out of the file within their rule's 7 days (here: at the next yearly sweep).
    events = [e["event"] for e in log.entries()]
    assert "warehouse_compacted" in events
    assert sum(e["details"]["keys_destroyed"] for e in log.entries() if e["event"] == "subjects_retired") > 0
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        left = {s for (s,) in con.execute(" union ".join(
            f"select subject_id from {r.sql}" for r in subject_relations(con, views=False)
            if r.schema in ("raw", "snapshots"))).fetchall()}
    with sqlite3.connect(home / "keys" / "keystore.sqlite") as keys:
        keyed = {k.hex() for (k,) in keys.execute("select subject_id from data_keys")}
    assert keyed and keyed <= left
