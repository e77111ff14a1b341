"""The retention planner and sweep on a small hand-made warehouse built from the real classification."""

from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from expectations.suites import ID_COLUMNS
from orchestration.ingest.schema import ensure_raw_tables
from orchestration.settings import DBT_PROJECT_DIR
from privacy import retention
from privacy.classification import load_classification
from privacy.policy import load_policy

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)
CLASSIFICATION = load_classification(DBT_PROJECT_DIR)
POLICY = load_policy()


def ago(days: float, fmt: str = "%Y-%m-%dT%H:%M:%S") -> str:
    return (NOW - timedelta(days=days)).strftime(fmt)


def day(days: float) -> str:
    return ago(days, "%Y-%m-%d")


def insert(con, table: str, **values) -> None:
    con.execute(f"insert into {table} by name select {', '.join(f'${k} as {k}' for k in values)}", values)


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_raw_tables(con, [t for t in CLASSIFICATION if t.layer == "source" and t.subject])
    snap = CLASSIFICATION.table("snap_crm__customers", "snapshot")
    con.execute("create schema snapshots")
    con.execute(f"create table snapshots.snap_crm__customers ({', '.join(f'{c.name} varchar' for c in snap.columns)})")
    yield con
    con.close()


def customer(con, subject, end, exported, line=1, snapshot=True, file=None):
    insert(con, "raw.crm_customers", subject_id=subject, relationship_end=end, status="ended" if end else "active",
           exported_at=exported, _source_file=file or f"{exported[:10]}.csv", _source_line=line)
    if snapshot:
        insert(con, "snapshots.snap_crm__customers", subject_id=subject, relationship_end=end, dbt_valid_from=exported)


def plan(con, now=NOW):
    return retention.plan(con, CLASSIFICATION, POLICY, now=now, ids=ID_COLUMNS)


def count(con, sql):
    return con.execute(sql).fetchone()[0]


def test_each_table_takes_the_rule_of_its_subject_id_or_the_rule_its_columns_share():
    rule = {t.name: retention.table_rule(t, POLICY).name for t in CLASSIFICATION if t.layer in ("source", "snapshot")}
    assert rule == {"crm_customers": "contact_data", "leads": "leads", "consent_events": "consent_records",
                    "interactions": "interactions", "orders": "orders", "nps_responses": "nps_responses",
                    "_batches": "metadata", "_landing_removed": "metadata", "_quarantine": "quarantine",
                    "snap_crm__customers": "contact_data"}


def test_now_must_be_timezone_aware(con):
    with pytest.raises(ValueError, match="timezone-aware"):
        retention.plan(con, CLASSIFICATION, POLICY, now=NOW.replace(tzinfo=None), ids=ID_COLUMNS)


def test_contact_data_is_decided_per_subject_on_the_latest_export_row_with_its_snapshot_history(con):
    customer(con, "gone", None, ago(1200))                   # active then, ended 800 days ago since
    customer(con, "gone", day(800), ago(790), line=2)
    customer(con, "back", day(1000), ago(990), line=2, file="b.csv")  # ended long ago, came back: kept whole
    customer(con, "back", None, ago(10), file="a.csv")                 # the export time decides, as in staging
    customer(con, "recent", day(700), ago(690))              # ended less than two years ago
    insert(con, "snapshots.snap_crm__customers", subject_id="orphan", relationship_end=day(100))
    due = plan(con)
    assert due.counts()["raw.crm_customers"] == 2 and due.counts()["snapshots.snap_crm__customers"] == 3
    done = retention.apply(con, due)
    assert done == {s.relation: s.rows for s in due.steps}
    for relation in ("raw.crm_customers", "snapshots.snap_crm__customers"):
        subjects = {r[0] for r in con.execute(f"select distinct subject_id from {relation}").fetchall()}
        assert subjects == {"back", "recent"}
    assert count(con, "select count(*) from raw.crm_customers where subject_id = 'back'") == 2
    assert plan(con).rows == 0


def test_the_latest_export_is_decided_in_utc_when_exports_carry_offsets(con):
    # 10:00+02:00 is 08:00 UTC: the 09:00Z export (active again) is the latest, though its text
    # sorts lower and its file name too; staging decides the same (stg_crm__customers unit test).
    customer(con, "s", day(800), ago(790, "%Y-%m-%dT10:00:00+02:00"), file="b.csv", snapshot=False)
    customer(con, "s", None, ago(790, "%Y-%m-%dT09:00:00Z"), file="a.csv", snapshot=False)
    assert plan(con).rows == 0
    con.execute("delete from raw.crm_customers")
    customer(con, "s", None, ago(790, "%Y-%m-%dT10:00:00+02:00"), file="a.csv", snapshot=False)
    customer(con, "s", day(800), ago(790, "%Y-%m-%dT09:00:00Z"), file="b.csv", snapshot=False)
    assert plan(con).counts()["raw.crm_customers"] == 2


def test_periods_count_in_whole_utc_days_the_anchor_day_plus_duration_is_the_first_day_without(con):
    customer(con, "edge", "2024-03-01", "2024-03-01 06:00:00")
    end = datetime(2024, 3, 1, tzinfo=timezone.utc) + timedelta(days=730)
    assert plan(con, now=end - timedelta(microseconds=1)).rows == 0
    assert plan(con, now=end).counts()["raw.crm_customers"] == 1
    assert plan(con, now=(end + timedelta(hours=23)).astimezone(timezone(timedelta(hours=2)))).rows == 2


def test_a_row_loaded_seconds_into_a_daily_run_goes_in_the_run_at_the_same_hour_a_period_later(con):
    # The soak test: a run at 02:00 loads a file at 02:00:07; counted to the second, the run at
    # 02:00 thirty days on was 7 s short, so rows and files stayed 31 days where the register says 30.
    run = datetime(2030, 5, 2, 2, 0, tzinfo=timezone.utc)
    con.execute("insert into raw._quarantine values ('orders', 'f', 1, 'rule', 's', null, 'b', ?)",
                [run + timedelta(seconds=7)])
    assert plan(con, now=run + timedelta(days=29, hours=21, minutes=59)).rows == 0  # 23:59 the day before
    assert plan(con, now=run + timedelta(days=30)).counts()["raw._quarantine"] == 1


def test_orders_past_the_fiscal_duty_are_anonymised_with_amounts_kept(con):
    for i, (age, amount) in enumerate([(2558, "10.00"), (2600, "20.50"), (2556, "30.00"), (30, "40.00")]):
        insert(con, "raw.orders", subject_id="buyer", order_id=f"O{i}", order_date=day(age), amount=amount,
               margin="1.00", _source_file="f.csv", _source_line=i + 1)
    insert(con, "raw.orders", subject_id="buyer", order_id="O0", order_date=day(2558), amount="10.00",  # exported again
           margin="1.00", _source_file="g.csv", _source_line=1)
    due = plan(con)
    assert [(s.action, s.rows, s.subjects) for s in due.steps if s.relation == 'raw."orders"'] == [("anonymise", 3, 1)]
    retention.apply(con, due)
    rows = con.execute("select order_id, subject_id, amount, _source_line from raw.orders "
                       "order by amount, _source_file").fetchall()
    assert [r[2] for r in rows] == ["10.00", "10.00", "20.50", "30.00", "40.00"]
    assert [r[:2] for r in rows[3:]] == [("O2", "buyer"), ("O3", "buyer")] and [r[3] for r in rows[3:]] == [3, 4]
    tokens = [r[1] for r in rows[:3]]
    assert all(t.startswith(retention.ANONYMOUS_PREFIX) and len(t) == 37 for t in tokens) and len(set(tokens)) == 3
    orders = [r[0] for r in rows[:3]]  # the order system's key no longer leads back to the customer
    assert all(o.startswith(retention.ANONYMOUS_PREFIX) and len(o) == 69 for o in orders)
    assert orders[0] == orders[1] != orders[2]  # one order exported twice still deduplicates to one
    assert [r[3] for r in rows[:3]] == [None, None, None]
    assert plan(con).rows == 0
    retention.apply(con, plan(con))
    assert [r[:2] for r in con.execute("select order_id, subject_id from raw.orders order by amount, _source_file")
            .fetchall()[:3]] == list(zip(orders, tokens))


def test_the_marts_leave_out_orders_by_the_prefix_the_sweep_and_erasure_give_them():
    """dbt's var anonymised_prefix (macro analysed_orders) names the tokens of privacy.retention: the
    one prefix is written in two places, Python's and dbt's, so this ties them."""
    import yaml

    settings = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    assert settings["anonymised_prefix"] == retention.ANONYMOUS_PREFIX


def test_leads_expire_a_year_after_last_contact_or_after_creation_when_never_contacted(con):
    for subject, created, contact in [("suspect_old", day(400), None), ("suspect_new", day(100), None),
                                      ("prospect_recent", day(900), day(200)), ("prospect_old", day(900), day(366))]:
        insert(con, "raw.leads", subject_id=subject, created_at=created, last_contact_at=contact,
               _source_file="l.csv", _source_line=1)
    retention.apply(con, plan(con))
    kept = {r[0] for r in con.execute("select subject_id from raw.leads").fetchall()}
    assert kept == {"suspect_new", "prospect_recent"}


def loaded(con, batch, file, age, source="interactions", sha="x"):
    con.execute("insert into raw._batches values (?, ?, ?, ?, 1, 1, 0, 0, ?, null, null, null, null)",
                [batch, source, file, sha, NOW - timedelta(days=age)])


def test_rows_without_their_anchor_are_reported_once_held_their_period_since_first_load_and_kept(con):
    """Art. 5(1)(e): a row whose anchor is empty (a ticket never closed, an interaction without its
    time) was kept for ever in silence; only the CRM warned, about an ended customer without its end.
    The sweep now counts them per table, from the first load of their file's content (raw._batches),
    and an ended customer at once; it deletes none of them (a product decision)."""
    loaded(con, "b1", "old.jsonl", 400)
    loaded(con, "b2", "old.jsonl", 5)            # the same content loaded again: still held since day -400
    loaded(con, "b3", "new.jsonl", 10)
    loaded(con, "b4", "old.jsonl", 3, sha="y")   # changed content: held since its own first load
    for i, (batch, when) in enumerate([("b1", None), ("b2", None), ("b2", ""), ("b3", None), ("b4", None),
                                       ("b2", ago(10))]):
        insert(con, "raw.interactions", subject_id=f"s{i % 2}", occurred_at=when, _batch_id=batch,
               _source_file="old.jsonl", _source_line=i)
    loaded(con, "c1", "2028-01-01.csv", 1000, source="crm_customers")
    insert(con, "raw.crm_customers", subject_id="active", status="active", relationship_end=None, _batch_id="c1",
           exported_at=ago(1000), _source_file="2028-01-01.csv", _source_line=1)   # the relationship goes on
    insert(con, "raw.crm_customers", subject_id="ended", status="ended", relationship_end=None, _batch_id="c1",
           exported_at=ago(1000), _source_file="2028-01-01.csv", _source_line=2)
    loaded(con, "l1", "l1.csv", 400, source="leads")
    loaded(con, "l2", "l2.csv", 1, source="leads")
    for batch in ("l1", "l2"):   # a lead with no date at all, exported again yesterday: held since day -400
        insert(con, "raw.leads", subject_id="undated", created_at=None, last_contact_at=None, _batch_id=batch,
               _source_file=f"{batch}.csv", _source_line=1)
    insert(con, "raw.leads", subject_id="new", created_at=None, _batch_id="l2", _source_file="l2.csv", _source_line=2)
    held = {h.table: (h.rule, h.anchor, h.rows, h.subjects)
            for h in retention.held_without_anchor(con, CLASSIFICATION, POLICY, now=NOW, ids=ID_COLUMNS)}
    assert held == {"raw.interactions": ("interactions", "occurred_at", 3, 2),
                    "raw.crm_customers": ("contact_data", "relationship_end", 1, 1),
                    "raw.leads": ("leads", "last_contact_at", 2, 1)}
    assert plan(con).rows == 0  # reported, not deleted


@pytest.mark.parametrize("table, column, days, rule_days", [
    ("interactions", "occurred_at", 365, 365), ("nps_responses", "responded_at", 730, 730),
    ("consent_events", "occurred_at", 1825, 1825)])
def test_event_tables_are_swept_row_by_row(con, table, column, days, rule_days):
    assert retention.table_rule(CLASSIFICATION.table(table, "source"), POLICY).duration_days == rule_days
    for i, age in enumerate([days + 1, days - 1, days + 400]):
        insert(con, f"raw.{table}", subject_id="s", **{column: ago(age)}, _source_file="e", _source_line=i)
    assert retention.apply(con, plan(con))[f'raw."{table}"'] == 2
    assert count(con, f"select count(*) from raw.{table}") == 1


def test_quarantine_after_30_days_and_load_metadata_after_7_years_on_timestamptz(con):
    for age in (31, 29):
        con.execute("insert into raw._quarantine values ('orders', 'f', 1, 'rule', 's', null, 'b', ?)",
                    [NOW - timedelta(days=age)])
    for batch, age in (("old", 2558), ("new", 2556)):
        con.execute("insert into raw._batches values (?, 'orders', 'f', 'x', 1, 1, 0, 0, ?, null, null, null, null)",
                    [batch, NOW - timedelta(days=age)])
    con.execute("set TimeZone = 'America/New_York'")  # the session zone must not shift the cut-off
    counts = plan(con).counts()
    assert (counts["raw._quarantine"], counts["raw._batches"]) == (1, 1)


def test_planning_changes_nothing_and_apply_is_all_or_nothing(con):
    customer(con, "gone", day(800), ago(790))
    insert(con, "raw.interactions", subject_id="s", occurred_at=ago(400), _source_file="e", _source_line=1)
    due = plan(con)
    assert due.rows == 3 and count(con, "select count(*) from raw.crm_customers") == 1
    broken = retention.Plan(NOW, due.steps + (retention.Step("raw.missing", "x", "delete", "true", 1, 1),))
    with pytest.raises(duckdb.Error):
        retention.apply(con, broken)
    assert plan(con).rows == 3


def test_unknown_subjects_finds_mart_rows_of_subjects_gone_from_the_raw_layer(con):
    customer(con, "kept", None, ago(1))
    # A quarantined row is load metadata: it does not make a swept subject known.
    con.execute("insert into raw._quarantine values ('crm_customers', 'f', 2, 'rule', 'swept', null, 'b', ?)", [ago(1)])
    con.execute("create schema marts")
    con.execute("create table marts.customer_rfm as select * from (values ('kept'), ('swept'), (null)) t(subject_id)")
    assert retention.unknown_subjects(con, ['marts."customer_rfm"']) == {'marts."customer_rfm"': 1}


def test_a_missing_table_is_skipped_and_a_misconfigured_anchor_is_an_error(con):
    con.execute("drop table raw.orders")
    assert 'raw."orders"' not in {s.relation for s in plan(con).steps}
    con.execute("alter table raw.leads drop column last_contact_at")
    with pytest.raises(ValueError, match="anchor 'last_contact_at'"):
        plan(con)


def test_the_audit_log_keeps_its_entries_as_long_as_the_longest_rule(tmp_path):
    from privacy.audit import AuditLog

    policy, audit = load_policy(), AuditLog(tmp_path / "audit.jsonl", key_dir=tmp_path / "keys")
    longest = max(r.duration_days for r in policy.retention.values())
    assert policy.retention[retention.AUDIT_RULE].duration_days == longest == 2557
    now = datetime(2033, 6, 1, tzinfo=timezone.utc)
    for days_ago in (2560, 2558, 2556, 10):
        audit.append("decrypt", now=now - timedelta(days=days_ago), table="leads", count=days_ago)
    assert retention.expire_audit(audit, policy, now=now) == 2
    assert [e["details"].get("count") for e in audit.entries()] == [2556, 10, None]
    assert audit.verify().ok
    assert retention.expire_audit(audit, policy, now=now) == 0


def test_a_subject_with_no_row_left_loses_their_key_and_look_up_entries_but_gets_no_tombstone(
        con, keystore, subjects, audit, pseudonymiser):
    """Art. 5(1)(e): what deleted rows leave in the file's free space cannot be decrypted afterwards,
    and the e-mail and name indexes keep no one the warehouse no longer holds."""
    import sqlite3

    from privacy.rights.blind_index import BlindIndex

    kept, in_snapshot, quarantined, swept, erased = subjects
    [coming] = pseudonymiser.subject_ids("customer", ["C0000099"])  # in a landing file not loaded yet
    batch = retention.quarantine_key("b2")  # encrypts a quarantined line without a readable subject
    keystore.ensure([*subjects, batch])
    keystore.shred(erased)
    customer(con, kept, None, ago(1), file="new.csv")
    insert(con, "snapshots.snap_crm__customers", subject_id=in_snapshot, dbt_valid_from=ago(1))
    con.execute("insert into raw._quarantine values ('crm_customers', 'new.csv', 2, 'rule', ?, null, 'b1', ?), "
                "('crm_customers', 'new.csv', 3, 'rule', null, null, 'b2', ?)", [quarantined, ago(1), ago(1)])
    for batch_id, file in (("b1", "new.csv"), ("b0", "old.csv")):
        con.execute("insert into raw._batches values (?, 'crm_customers', ?, 'x', 1, 1, 0, 0, ?, null, null, null, null)",
                    [batch_id, file, ago(1)])
    db = sqlite3.connect(":memory:", isolation_level=None)  # as the ledger opens it
    db.row_factory = sqlite3.Row
    index = BlindIndex(db)
    index.index_file("crm_customers", "new.csv", "s1", [("h1", "customer", kept)], {"n1"})
    index.index_file("crm_customers", "old.csv", "s2", [("h2", "customer", swept), ("h3", "customer", kept)], {"n2"})
    index.index_file("crm_customers", "later.csv", "s3", [("h4", "customer", coming)], {"n3"})
    index.index_file("rectification", "req-1", "req-1", [("h5", "customer", swept)])  # a corrected address
    done = retention.retire_subjects(con, keystore, index, left=retention.subjects_left(con), now=NOW, audit=audit)
    assert done == {"keys_destroyed": 1, "email_entries": 2, "name_entries": 1}
    assert keystore.subject_ids() == {kept, in_snapshot, quarantined, batch}
    assert keystore.shredded([swept, erased]) == {erased}  # retired is not erased: a new delivery loads again
    assert index.subjects_for_email("h2") == index.subjects_for_email("h5") == []
    assert index.known("name_index", {"n1", "n2", "n3"}) == {"n1", "n3"}
    assert index.subjects_for_email("h4") == [("customer", coming)]  # read before its file was loaded: kept
    assert list(audit.entries())[-1]["event"] == "subjects_retired"
    keystore.ensure([swept])
    assert keystore.subject_ids() >= {swept}


def test_erasure_tombstones_expire_after_their_rule(keystore, subjects):
    keystore.shred(subjects[0], now=NOW - timedelta(days=2558))
    keystore.shred(subjects[1], now=NOW - timedelta(days=10))
    rule = POLICY.retention["erasure_tombstones"]
    assert keystore.expire_tombstones(rule.cutoff(NOW)) == 1
    assert keystore.shredded(subjects[:2]) == {subjects[1]}


def tickets(con):
    """A source whose records change after export (README, Add a source): helpdesk tickets whose
    rule counts from closed_at, a ticket exported while open and again once closed."""
    from dataclasses import replace

    from privacy.tables import Classification, Column, Subject, Table
    rule = retention.RetentionRule("support_tickets", "Tickets", 365, "closed_at", "delete")
    cols = tuple(Column(n, "quasi_identifier", ("contract",), "6(1)(b)", rule.name)
                 for n in ("subject_id", "ticket_id", "closed_at", "_source_file", "_source_line", "_batch_id"))
    table = Table("support_tickets", "source", cols, subject=Subject("customer", "customer_id"))
    ensure_raw_tables(con, [table])
    return Classification(DBT_PROJECT_DIR, (table,)), replace(POLICY, retention={rule.name: rule})


def test_a_record_exported_again_is_judged_on_its_latest_row_so_its_earlier_versions_go_with_it(con):
    """Art. 5(1)(e): a ticket exported open (closed_at empty) and again once closed kept its open rows
    of the earlier files for ever: judged per row, only the closed row's period ran. Judged per
    record id on the record's latest row, all its versions go when that one's period is over, and
    a record is held without its anchor only when its latest version lacks it."""
    classification, policy = tickets(con)
    loaded(con, "b1", "b1.csv", 900, source="support_tickets")
    loaded(con, "b2", "b2.csv", 870, source="support_tickets")
    loaded(con, "b3", "b3.csv", 30, source="support_tickets")
    for ticket, batch, closed, line in [("closed", "b1", None, 1), ("closed", "b2", day(800), 1),  # closed long ago
                                        ("reopened", "b1", day(880), 2), ("reopened", "b3", None, 1),  # open again
                                        ("recent", "b1", None, 3), ("recent", "b2", None, 2),          # closed lately
                                        ("recent", "b3", day(20), 2),
                                        ("open", "b1", None, 4), (None, "b1", day(400), 5), (None, "b1", None, 6)]:
        insert(con, "raw.support_tickets", subject_id="s", ticket_id=ticket, closed_at=closed, _batch_id=batch,
               _source_file=f"{batch}.csv", _source_line=line)
    ids = {"support_tickets": "ticket_id"}
    due = retention.plan(con, classification, policy, now=NOW, ids=ids)
    held = retention.held_without_anchor(con, classification, policy, now=NOW, ids=ids)
    retention.apply(con, due)
    left = con.execute("select ticket_id, count(*) from raw.support_tickets group by all order by all").fetchall()
    # "closed" goes whole, and the row without an id by its own date; "reopened" is open again: kept whole
    assert (left, due.rows) == ([("open", 1), ("recent", 3), ("reopened", 2), (None, 1)], 3)
    assert [(h.rows, h.subjects) for h in held] == [(4, 1)]  # "reopened" (both rows), "open", the row without id
