"""Data subject rights (privacy.rights): requests, ledger, erasure, rectification, purge, export.

Fast tests on small hand-made databases; the whole flow on a generated installation is in
tests/orchestration/test_requests_e2e.py.
"""

import ast
import csv
import hashlib
import html
import io
import json
import os
import re
import shutil
import stat
import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.ingest.schema import ensure_raw_tables
from orchestration.settings import DBT_PROJECT_DIR
from privacy.classification import load_classification
from privacy.crypto import decrypt_values, encrypt_values
from privacy.ingest import protect
from privacy.policy import load_policy
from privacy.retention import ANONYMOUS_PREFIX
from privacy.rights import blind_index, consent, disclosure, package, purge, texts
from privacy.rights.access import Dataset
from privacy.rights.erasure import erase
from privacy.rights.ledger import Ledger
from privacy.rights.rectify import rectifiable_fields, rectify
from privacy.rights.requests import LOCAL_TIME, InvalidRequest, months_after, parse_request, request_id_for
from privacy.rights.warehouse import Relation, subject_relations

RIGHTS = Path(__file__).resolve().parents[2] / "privacy" / "rights"
CLASSIFICATION = load_classification(DBT_PROJECT_DIR)
POLICY = load_policy()
SECRET = "jan.secret@example.nl"
BASE = {"type": "access", "email": SECRET, "received_at": "2026-01-31T10:00:00+01:00", "verification": "portal_login"}


def test_privacy_rights_never_imports_dagster_dbt_or_orchestration():
    for path in RIGHTS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.split(".")[0] in ("dagster", "dagster_dbt", "dbt", "orchestration")], path


def test_who_filed_a_request_is_an_account_name_or_not_stated_and_never_refuses_it():
    """Art. 5(2): the audit log names who filed it; a portal's odd value never rejects a request."""
    assert parse_request({**BASE, "filed_by": "portal"}).filed_by == "portal"
    for odd in (None, 42, {"user": "x"}, SECRET, "self-service by Jan de Vries"):  # never an address or free text
        assert parse_request({**BASE, "filed_by": odd}).filed_by == ""
    assert request_id_for({**BASE, "filed_by": "a.devries"}) == request_id_for(BASE)  # one request, whoever filed it


def test_request_is_parsed_with_due_date_one_calendar_month_later_and_hides_the_identifier():
    request = parse_request(json.dumps(BASE))
    assert request.received_at == datetime(2026, 1, 31, 9, 0, tzinfo=timezone.utc)
    assert request.due_at == datetime(2026, 2, 28, 9, 0, tzinfo=timezone.utc)  # Art. 12(3), shorter month
    assert request.identifier_kind == "email" and SECRET not in repr(request)
    assert months_after(datetime(2026, 12, 15, 12, tzinfo=LOCAL_TIME), 1) == datetime(2027, 1, 15, 11, tzinfo=timezone.utc)
    assert months_after(datetime(2028, 1, 30, 12, tzinfo=LOCAL_TIME), 1) == datetime(2028, 2, 29, 11, tzinfo=timezone.utc)
    # The two-month extension (Art. 12(3)) across a year's end and into summer time.
    assert months_after(datetime(2026, 12, 31, 12, tzinfo=LOCAL_TIME), 2) == datetime(2027, 2, 28, 11, tzinfo=timezone.utc)
    assert months_after(datetime(2027, 2, 10, 12, tzinfo=LOCAL_TIME), 2) == datetime(2027, 4, 10, 10, tzinfo=timezone.utc)
    assert request.request_id == request_id_for(dict(reversed(list(BASE.items()))))  # order-independent id
    # The month on the Dutch calendar: 31 January 00:30 in Amsterdam is 30 January in UTC.
    late_night = parse_request(json.dumps({**BASE, "received_at": "2026-01-31T00:30:00+01:00"}))
    assert late_night.due_at == datetime(2026, 2, 27, 23, 30, tzinfo=timezone.utc)  # 28 February 00:30 local


@pytest.mark.parametrize("change, field", [
    ({"type": "delete_everything"}, "type"), ({"customer_id": "C0000001"}, "exactly one"),
    ({"email": "not-an-address"}, "email"), ({"verification": ""}, "verification"),
    ({"received_at": "yesterday"}, "received_at"), ({"type": "withdraw_consent", "purpose": "x"}, "purpose"),
    ({"type": "rectification", "field": "email"}, "rectification")])
def test_invalid_requests_name_the_field_never_the_value(change, field):
    with pytest.raises(InvalidRequest) as err:
        parse_request({**BASE, **change}, consent_purposes=["marketing_email"], fields={"email"})
    assert field in str(err.value) and SECRET not in str(err.value) and "not-an-address" not in str(err.value)


@pytest.mark.parametrize("typo, meant", [("langauge", "language"), ("verificaton", "verification"),
                                          ("customerid", "customer_id"), ("recieved_at", "received_at")])
def test_a_misspelt_field_is_named_with_the_one_meant(typo, meant):
    """Onboarding review: a misspelt `language` was ignored, so an English speaker got a Dutch
    letter; a misspelt `verification` was said to need another value, though the value was right."""
    doc = {**BASE, "language": "en", "customer_id": "C0000001"}
    doc.pop("email")
    doc[typo] = doc.pop(meant)
    with pytest.raises(InvalidRequest) as err:
        parse_request(doc)
    assert str(err.value) == f"unknown field {typo}: did you mean {meant}?"
    assert parse_request({**BASE, "portal_ticket": "T-1"}).language == "nl"  # another system's own field stays allowed
    # a near miss of a field the document has is another system's own (review: `customer` beside `customer_id`)
    assert parse_request({**BASE, "language": "en", "languages": ["en"]}).language == "en"


def test_a_request_accepts_every_key_the_landing_rules_accept():
    """One definition of the key form (privacy.identifiers): a customer whose own system's key
    loads can also file a request with it."""
    import re

    from expectations.formats import CUSTOMER_ID
    doc = {k: v for k, v in BASE.items() if k != "email"}
    for key in ("C0000001", "CUST-2024/17", "k.1:a_b"):
        assert re.match(CUSTOMER_ID, key) and parse_request({**doc, "customer_id": key}).identifier_kind == "customer_id"
    for key in ("C 0000001", "'C1'", ""):
        assert not re.match(CUSTOMER_ID, key)
        with pytest.raises(InvalidRequest):
            parse_request({**doc, "customer_id": key})


def test_ledger_registers_once_claims_once_and_stores_no_identifier(tmp_path):
    request, now = parse_request(BASE), datetime(2026, 2, 1, tzinfo=timezone.utc)
    with Ledger(tmp_path / "state" / "requests.sqlite") as ledger:
        assert ledger.register(request, "hmac-of-address")
        assert not ledger.register(request, "hmac-of-address")
        assert ledger.claim(request.request_id, now=now) and not ledger.claim(request.request_id, now=now)
        ledger.complete(request.request_id, subjects=["a" * 64], result_path="x.zip", detail={"rows": 3}, now=now)
        assert ledger.get(request.request_id)["status"] == "completed"
        assert [r["request_id"] for r in ledger.results_for(["a" * 64], "access")] == [request.request_id]
        ledger.index.index_file("crm_customers", "day1.csv", "1:1", [("h1", "customer", "a" * 64), ("h2", "customer", "b" * 64)])
        ledger.index.index_file("crm_customers", "day1.csv", "2:2", [("h1", "customer", "a" * 64)])  # a changed file
        assert ledger.index.subjects_for_email("h1") == [("customer", "a" * 64)] and ledger.index.subjects_for_email("h2") == []
        assert ledger.index.forget_subjects(["a" * 64]) == 1 and ledger.index.subjects_for_email("h1") == []
    path = tmp_path / "state" / "requests.sqlite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and SECRET.encode() not in path.read_bytes()


def test_blind_index_rebuilds_its_indexes_only_for_a_file_larger_than_what_it_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(blind_index, "REBUILD_ROWS", 3)
    entries = lambda n, tag: [(f"{tag}{i}", "customer", f"{i:064x}") for i in range(n)]  # noqa: E731
    with Ledger(tmp_path / "requests.sqlite") as ledger:
        dropped = []
        ledger.index._db.set_trace_callback(lambda sql: dropped.append(sql) if sql.startswith("drop index") else None)
        ledger.index.index_file("crm_customers", "day1.csv", "1", entries(10, "a"), {"n1", "n2"})
        rebuilt = len(dropped)
        ledger.index.index_file("crm_customers", "day2.csv", "2", entries(4, "b"))  # 4 >= 3, but 4 < 12 held
        ledger.index._db.set_trace_callback(None)
        names = {r[0] for r in ledger.index._db.execute("select name from sqlite_master where type = 'index'")}
        assert rebuilt == len(blind_index.INDEXES) and len(dropped) == rebuilt
        assert set(blind_index.INDEXES) <= names
        assert ledger.index.subjects_for_email("a9") == [("customer", f"{9:064x}")]
        assert ledger.index.subjects_for_email("b3") == [("customer", f"{3:064x}")]
        assert ledger.index.known("name_index", {"n1", "n3"}) == {"n1"}


def test_compact_removes_deleted_bytes_and_keeps_tables_and_views(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("set force_compression = 'uncompressed'")  # as plain ids often are: findable in the bytes
        con.execute("create schema raw; create table raw.t as select md5(i::varchar) as v from range(5000) r(i)")
        con.execute("insert into raw.t values ('canary-value-4711')")
        con.execute("create view raw.v as select * from raw.t")
        con.execute("checkpoint")
        con.execute("delete from raw.t where v = 'canary-value-4711'")
    assert b"canary-value-4711" in db.read_bytes()  # the trap: deleted is not gone
    result = purge.compact(db)
    assert b"canary-value-4711" not in db.read_bytes() and result["bytes_after"] <= result["bytes_before"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw.v").fetchone()[0] == 5000


def test_an_interrupted_compaction_s_copy_goes_with_the_next_one(tmp_path):
    """Art. 17: a compaction killed half-way leaves a full copy of the data beside the file."""
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table t as select 'erased-person-4711' as v")
    leftover = tmp_path / ".warehouse.compact-99999.duckdb"  # another process's pid
    leftover.write_bytes(b"erased-person-4711" * 10)
    (tmp_path / ".warehouse.compact-99999.duckdb.wal").write_bytes(b"erased-person-4711")
    seen = os.open(leftover, os.O_RDONLY)
    purge.compact(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".warehouse.compact.lock", "warehouse.duckdb"]
    assert os.read(seen, 1000) == bytes(180)  # zeroed, not only unlinked
    os.close(seen)


def test_a_file_that_another_name_shows_after_the_swap_is_not_zeroed(tmp_path):
    """Review: a second compaction took the first one's fresh copy for a leftover and, once the first
    renamed it into place, zeroed the live warehouse. Only bytes no name shows any more are zeroed."""
    live, fresh = tmp_path / "warehouse.duckdb", tmp_path / ".warehouse.compact-1.duckdb"
    live.write_bytes(b"old")
    fresh.write_bytes(b"the new warehouse")
    with purge.overwritten_when_replaced([fresh]):
        os.replace(fresh, live)  # the other process's swap, while this one held the file open
        fresh.unlink(missing_ok=True)
    assert live.read_bytes() == b"the new warehouse"


def test_zeroing_never_reaches_through_a_link(tmp_path):
    """A symbolic or hard link put where a file is removed (an inbox, a landing folder) must not
    destroy what it points to: a key file, say."""
    key, other = tmp_path / "master.key", tmp_path / "shared.txt"
    key.write_bytes(b"k" * 32)
    other.write_bytes(b"still needed")
    soft, hard, own = tmp_path / "soft.pdf", tmp_path / "hard.pdf", tmp_path / "own.pdf"
    soft.symlink_to(key)
    os.link(other, hard)
    own.write_bytes(b"plain personal data")
    own_fd = os.open(own, os.O_RDONLY)
    with purge.overwritten_when_replaced([soft, hard, own]):
        for p in (soft, hard, own):
            p.unlink()
    assert key.read_bytes() == b"k" * 32 and other.read_bytes() == b"still needed"
    assert os.read(own_fd, 100) == bytes(len(b"plain personal data"))  # the file's own bytes are zeroed
    os.close(own_fd)


def _warehouse(con, keystore, pseudonymiser, now, customers=("C0000001", "C0000002")):
    crm, orders = CLASSIFICATION.table("crm_customers", "source"), CLASSIFICATION.table("orders", "source")
    ensure_raw_tables(con, [crm, orders])
    people = pd.DataFrame({"customer_id": list(customers), "first_name": ["Jan", "Anna"], "last_name": ["Smit", "Bos"],
                           "email": [SECRET, "anna@example.nl"], "phone": ["0612345678"] * 2, "birth_date": ["1980-05-05"] * 2,
                           "gender": ["M", "F"], "street": ["Dorpsstraat"] * 2, "house_number": ["1", "2"],
                           "postcode": ["1234 AB", "5678 CD"], "city": ["Utrecht"] * 2, "iban": ["NL91" "ABNA" "0417164300"] * 2,
                           "status": ["active"] * 2, "customer_since": ["2020-01-01"] * 2, "relationship_end": [None] * 2,
                           "account_manager": ["AM01"] * 2, "exported_at": ["2026-01-01 06:00:00"] * 2}, dtype=object)
    for day in ("a", "b"):  # two exports: two versions of every customer
        rows = protect(crm, people, keystore=keystore, pseudonymiser=pseudonymiser, now=now)
        rows["_source_file"], rows["_source_line"], rows["_batch_id"] = f"{day}.csv", range(1, 3), f"batch-{day}"
        con.register("incoming", rows)
        con.execute("insert into raw.crm_customers by name select * from incoming")
    ids = pseudonymiser.subject_ids("customer", list(customers))
    con.execute("insert into raw.orders by name select * from (values (?, 'O000000001', '2024-03-01', '10.00', '1.00', "
                "'hardware', 'web', 'ideal', 'o.csv', 1, 'batch-o'), (?, 'O000000002', '2025-03-01', '5.00', '1.00', "
                "'hardware', 'web', 'ideal', 'o.csv', 2, 'batch-o')) v(subject_id, order_id, order_date, amount, margin, "
                "product_category, channel, payment_method, _source_file, _source_line, _batch_id)", [ids[0], ids[0]])
    con.execute("insert into raw._batches values ('batch-a', 'crm_customers', 'a.csv', '', 2, 2, 0, 0, now(), null, null, null, null), "
                "('batch-b', 'crm_customers', 'b.csv', '', 2, 2, 0, 0, now(), null, null, null, null)")
    con.execute("create schema snapshots; create table snapshots.snap_crm__customers as select subject_id, postcode_area, "
                "city from raw.crm_customers")
    con.execute("create schema marts; create table marts.customer_rfm as select distinct subject_id, 'Loyal' as segment "
                "from raw.crm_customers")
    return ids


def test_erasure_shreds_deletes_everywhere_and_keeps_orders_unlinkable(keystore, pseudonymiser, audit, now):
    with duckdb.connect() as con:
        jan, anna = _warehouse(con, keystore, pseudonymiser, now)
        result = erase(con, [jan], keystore=keystore, classification=CLASSIFICATION, policy=POLICY, audit=audit,
                       actor="test", now=now)
        assert keystore.shredded([jan]) == {jan} and result.keys_shredded == 1
        assert {r["table"]: r["rows"] for r in result.removed} == {
            "raw.crm_customers": 2, "snapshots.snap_crm__customers": 2, "marts.customer_rfm": 1}
        [kept] = result.kept
        assert kept["table"] == "raw.orders" and kept["rows"] == 2 and "6(1)(c)" in kept["legal_basis"]
        assert kept["legal_duty_ends"] == "2032-03-01"  # 7 years (2,557 days) after the last order
        for rel in subject_relations(con):
            assert con.execute(f"select count(*) from {rel.sql} where subject_id = ?", [jan]).fetchone()[0] == 0
        tokens = [r[0] for r in con.execute("select subject_id from raw.orders").fetchall()]
        assert len(set(tokens)) == 2 and all(t.startswith(ANONYMOUS_PREFIX) and len(t) == 37 for t in tokens)
        assert con.execute("select count(*) from raw.orders where _source_line is null and "
                           "_source_file like 'erased:%'").fetchone()[0] == 2
        assert con.execute("select sum(loaded), sum(suppressed) from raw._batches").fetchone() == (2, 2)
        assert con.execute("select count(*) from raw.crm_customers where subject_id = ?", [anna]).fetchone()[0] == 2
    entry = list(audit.entries())[-1]
    assert entry["event"] == "erasure" and SECRET not in json.dumps(entry)


def test_rectification_rewrites_every_version_and_the_snapshot(keystore, pseudonymiser, audit, now):
    crm = CLASSIFICATION.table("crm_customers", "source")
    assert {"email", "postcode", "iban", "city"} <= set(rectifiable_fields(crm)) and "customer_id" not in rectifiable_fields(crm)
    with duckdb.connect() as con:
        jan, _ = _warehouse(con, keystore, pseudonymiser, now)
        changed = rectify(con, crm, jan, "C0000001", "postcode", "9999 ZZ", keystore=keystore, pseudonymiser=pseudonymiser,
                          audit=audit, actor="test", now=now)
        assert changed == {"raw.crm_customers": 2, "snapshots.snap_crm__customers": 2}
        blobs = [r[0] for r in con.execute("select postcode from raw.crm_customers where subject_id = ?", [jan]).fetchall()]
        assert decrypt_values(blobs, [jan] * 2, "crm_customers", "postcode", keystore, purpose="test") == ["9999 ZZ"] * 2
        assert con.execute("select distinct postcode_area from snapshots.snap_crm__customers where subject_id = ?",
                           [jan]).fetchall() == [("9999",)]
        with pytest.raises(ValueError):
            rectify(con, crm, jan, "C0000002", "email", "x@example.nl", keystore=keystore, pseudonymiser=pseudonymiser,
                    audit=audit, actor="test", now=now)


def test_rectification_on_a_warehouse_from_before_the_mark_adds_it(keystore, pseudonymiser, audit, now):
    crm = CLASSIFICATION.table("crm_customers", "source")
    with duckdb.connect() as con:
        jan, _ = _warehouse(con, keystore, pseudonymiser, now)
        con.execute("alter table raw.crm_customers drop column _rectified")  # as an older version made it
        rectify(con, crm, jan, "C0000001", "postcode", "9999 ZZ", keystore=keystore, pseudonymiser=pseudonymiser,
                audit=audit, actor="test", now=now)
        assert con.execute("select distinct _rectified from raw.crm_customers where subject_id = ?",
                           [jan]).fetchall() == [("postcode",)]  # so a reload of its files keeps the correction


def test_rectification_leaves_an_earlier_value_that_was_right_then(keystore, pseudonymiser, audit, now):
    crm = CLASSIFICATION.table("crm_customers", "source")
    with duckdb.connect() as con:
        jan, _ = _warehouse(con, keystore, pseudonymiser, now)
        [old_blob] = encrypt_values(["1111 AA"], [jan], "crm_customers", "postcode", keystore)
        con.execute("update raw.crm_customers set postcode = ?, postcode_area = '1111' "
                    "where subject_id = ? and _source_file = 'a.csv'", [old_blob, jan])  # he moved since a.csv
        con.execute("update snapshots.snap_crm__customers set postcode_area = '1111' where subject_id = ? and rowid = "
                    "(select min(rowid) from snapshots.snap_crm__customers where subject_id = ?)", [jan, jan])
        changed = rectify(con, crm, jan, "C0000001", "postcode", "9999 ZZ", keystore=keystore, pseudonymiser=pseudonymiser,
                          audit=audit, actor="test", now=now)
        assert changed == {"raw.crm_customers": 1, "snapshots.snap_crm__customers": 1}
        rows = con.execute("select _source_file, postcode, postcode_area from raw.crm_customers where subject_id = ? "
                           "order by _source_file", [jan]).fetchall()
        values = decrypt_values([r[1] for r in rows], [jan] * 2, "crm_customers", "postcode", keystore, purpose="test")
        assert list(zip([r[0] for r in rows], values, [r[2] for r in rows])) == [
            ("a.csv", "1111 AA", "1111"), ("b.csv", "9999 ZZ", "9999")]
        assert sorted(r[0] for r in con.execute("select postcode_area from snapshots.snap_crm__customers "
                                                "where subject_id = ?", [jan]).fetchall()) == ["1111", "9999"]


def test_rectification_corrects_the_latest_run_of_versions_and_every_snapshot_value_derived_from_it(
        keystore, pseudonymiser, audit, now):
    crm = CLASSIFICATION.table("crm_customers", "source")
    with duckdb.connect() as con:
        jan, _ = _warehouse(con, keystore, pseudonymiser, now)
        # a.csv had a phone number (right then); b.csv, the latest, has none: the subject completes it
        con.execute("update raw.crm_customers set phone = null where subject_id = ? and _source_file = 'b.csv'", [jan])
        changed = rectify(con, crm, jan, "C0000001", "phone", "0687654321", keystore=keystore, pseudonymiser=pseudonymiser,
                          audit=audit, actor="test", now=now)
        assert changed == {"raw.crm_customers": 1}
        rows = con.execute("select phone from raw.crm_customers where subject_id = ? order by _source_file", [jan]).fetchall()
        assert decrypt_values([r[0] for r in rows], [jan] * 2, "crm_customers", "phone", keystore,
                              purpose="test") == ["0612345678", "0687654321"]
        # one wrong birth date in both versions, read as two age bands as time passed: both snapshot versions go
        con.execute("update raw.crm_customers set age_band = case when _source_file = 'a.csv' then '40-49' else '50-59' end "
                    "where subject_id = ?", [jan])
        con.execute("create or replace table snapshots.snap_crm__customers as select subject_id, age_band, postcode_area "
                    "from raw.crm_customers")
        changed = rectify(con, crm, jan, "C0000001", "birth_date", "1990-05-05", keystore=keystore,
                          pseudonymiser=pseudonymiser, audit=audit, actor="test", now=now)
        assert changed == {"raw.crm_customers": 2, "snapshots.snap_crm__customers": 2}
        assert {r[0] for r in con.execute("select age_band from snapshots.snap_crm__customers where subject_id = ?",
                                          [jan]).fetchall()} == {"30-39"}  # born 1990: thirties at the test's time


def test_objection_withdraws_marketing_and_profiling_consent():
    assert consent.objection_purposes(POLICY) == ["marketing_email", "telemarketing", "profiling"]
    assert consent.purposes_for("withdraw_consent", "all", POLICY) == list(POLICY.consent_purposes)
    [event] = consent.withdrawal_events("req-1", "C0000001", ["telemarketing"],
                                        datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc), "2025.1")
    assert event == {"event_id": "req-1-telemarketing", "customer_id": "C0000001", "purpose": "telemarketing",
                     "action": "withdrawn", "occurred_at": "2026-03-01T12:00:00", "notice_version": "2025.1",
                     "channel": "privacy_request"}


def _datasets():
    crm = CLASSIFICATION.table("crm_customers", "source")
    rfm = CLASSIFICATION.table("customer_rfm", "model")
    return [Dataset(Relation("raw", "crm_customers", False, ("subject_id", "first_name")), crm, ["subject_id", "first_name"],
                    [{"subject_id": "a" * 64, "first_name": "<script>alert(1)</script>"}]),
            Dataset(Relation("marts", "customer_rfm", False, ("subject_id", "segment")), rfm, ["subject_id", "segment"],
                    [{"subject_id": "a" * 64, "segment": "Loyal"}])]


def _filled(value) -> bool:
    if isinstance(value, dict):
        return bool(value) and all(_filled(v) for k, v in value.items() if k not in ("applies_to_you", "consent_based",
                                                                                     "solely_automated_decisions", "view"))
    if isinstance(value, list):
        return bool(value) and all(_filled(v) for v in value)
    return value not in (None, "")


def test_art15_information_fills_every_field_from_classification_and_policy(now):
    metadata = disclosure.art15_information(_datasets(), CLASSIFICATION, POLICY, request_id="req-1", now=now)
    assert list(metadata["art15"]) == list(disclosure.FIELDS)
    for name, entry in metadata["art15"].items():
        assert entry["article"].startswith("15(") and _filled(entry["content"]), name
    art = {k: v["content"] for k, v in metadata["art15"].items()}
    assert "Autoriteit Persoonsgegevens" in art["complaint"]["authority"]
    assert {"rectification", "erasure", "restriction", "objection"} <= set(art["rights"])
    assert any(m["model"] == "customer_clv" and "BG/NBD" in m["logic"] for m in art["profiling"]["models"])
    # privacy review: the subject's own orders and scores were labelled "non_personal"
    categories = {k["category"] for k in art["categories"]} | {c.get("category") for d in metadata["datasets"]
                                                              for c in d["columns"]}
    assert "non_personal" not in categories and "linked_to_a_subject" in categories
    empty = disclosure.art15_information([], CLASSIFICATION, POLICY, request_id="req-2", now=now)
    assert empty["art15"]["confirmation"]["content"]["personal_data_processed"] is False


def test_a_lead_from_a_bought_list_is_told_where_their_data_came_from(now):
    """Art. 14(2)(f), 15(1)(g): the source of data not collected from the subject."""
    leads = CLASSIFICATION.table("leads", "source")
    columns = ["subject_id", "lead_source", "_source_file"]
    dataset = Dataset(Relation("raw", "leads", False, tuple(columns)), leads, columns,
                      [{"subject_id": "b" * 64, "lead_source": "purchased_list", "_source_file": "2026-11-01.csv"}])
    art = disclosure.art15_information([dataset], CLASSIFICATION, POLICY, request_id="req-3", now=now)["art15"]
    # the load columns are our bookkeeping: their rule is not listed as a period for the subject's data;
    # what is kept of them outside the warehouse's tables is (privacy review: Art. 15(1)(d))
    assert {r["rule"] for r in art["retention"]["content"]} == {"leads", *texts.KEPT_ELSEWHERE}
    elsewhere = {r["rule"]: r for r in art["retention"]["content"]}
    assert elsewhere["landing_files"]["datasets"] == ["landing files: the exports as delivered"]
    assert elsewhere["audit_log"]["kept_in"] == {"nl": "logboek van onze verwerkingen", "en": "audit log"}  # told in the reader's language
    assert "30 dagen" in elsewhere["landing_files"]["plain"]["nl"] and elsewhere["audit_log"]["duration_days"] > 0
    assert "raw.leads._source_file" in {c for k in art["categories"]["content"] for c in k["columns"]}  # still shown
    [source] = [s for s in art["sources"]["content"] if s["dataset"] == "raw.leads"]
    assert "bought from a supplier, not from you" in source["origin"]["en"] and "kochten van een leverancier" in source["origin"]["nl"]


def test_a_lead_from_a_bought_list_is_told_the_supplier_it_came_from(now):
    """DPO review: Art. 14(2)(f) and 15(1)(g) ask for the source itself, and the policy's balancing
    for lead_generation says the source of a bought list is kept per lead; the export said only
    "a list of contacts we bought from a supplier". An export may name it: purchased_list:<supplier>."""
    from privacy.rights import summary, values

    leads = CLASSIFICATION.table("leads", "source")
    columns = ["subject_id", "lead_source", "_source_file"]
    dataset = Dataset(Relation("raw", "leads", False, tuple(columns)), leads, columns,
                      [{"subject_id": "b" * 64, "lead_source": "purchased_list: Adresbureau Noord B.V.",
                        "_source_file": "2026-11-01.csv"}])
    metadata = disclosure.art15_information([dataset], CLASSIFICATION, POLICY, request_id="req-3", now=now)
    [source] = [s for s in metadata["art15"]["sources"]["content"] if s["dataset"] == "raw.leads"]
    assert source["origin"]["en"].endswith("a list of contacts we bought from Adresbureau Noord B.V., not from you")
    assert "kochten van Adresbureau Noord B.V., niet van u zelf" in source["origin"]["nl"]
    said = values.codes([dataset], POLICY)["lead_source"]["purchased_list: Adresbureau Noord B.V."]
    assert said["nl"] == "een adreslijst die wij kochten van Adresbureau Noord B.V., niet van u zelf"
    assert "Adresbureau Noord B.V., niet van u zelf" in summary.render(metadata, [dataset], "nl")


def test_the_dutch_summary_is_in_clear_language_without_the_engineers_terms(now):
    """Art. 12(1): purposes, retention, recipients and the profiling logic in plain Dutch."""
    from privacy.rights import summary

    metadata = disclosure.art15_information(_datasets(), CLASSIFICATION, POLICY, request_id="req-1", now=now)
    page = summary.render(metadata, _datasets(), "nl")
    assert "grondslag: nodig voor de overeenkomst met u (art. 6 lid 1 onder b AVG)" in page
    # a legitimate interest is named, so the subject can weigh an objection (Art. 13(1)(d), 21(1))
    interest = POLICY.purposes["analytics"].legitimate_interest["plain"]
    assert f"bezwaar maken (art. 6 lid 1 onder f AVG); ons belang daarbij: {interest['nl']}" in page
    assert f"; our interest in it: {interest['en']}" in summary.render(metadata, _datasets(), "en")
    purposes = {p["purpose"]: p for p in metadata["art15"]["purposes"]["content"]}
    assert purposes["analytics"]["legitimate_interest"]["plain"] == interest
    assert "legitimate_interest" not in purposes["contract"]
    assert "tot 2 jaar na het einde van uw klantrelatie" in page and "(art. 17 AVG;" in page
    assert "(logboek van onze verwerkingen)" in page and "(sleutelopslag)" in page  # what is kept outside the tables, in Dutch too
    for term in ("NTILE", "BG/NBD", "as_of", "dagen na build", "relationship_end", "GDPR", "Internal:", "audit log",
                 "key store", "landing files"):
        assert term not in page, term
    # each dataset under a heading the subject understands, its technical name beside it
    assert "<h3>Uw gegevens als klant, zoals in ons CRM <small>(raw.crm_customers, 1 rij)</small></h3>" in page
    assert "<th>Voornaam<br><small><code>first_name</code></small></th>" in page  # and each column
    assert "Your RFM score: how recently" in summary.render(metadata, _datasets(), "en")
    models = {m["model"] for m in metadata["art15"]["profiling"]["content"]["models"]}
    every = [*POLICY.purposes.values(), *POLICY.retention.values(), *(t for t in CLASSIFICATION if t.name in models)]
    assert len(models) >= 6 and [x.name for x in every if set(x.plain) != {"nl", "en"}] == []
    assert all(set(r.get("plain", {})) == {"nl", "en"} for r in POLICY.recipients)
    assert all(set(p) == {"nl", "en"} for p in POLICY.consent_plain.values())


def test_access_package_has_checksums_for_every_file_and_escapes_html(tmp_path, now):
    metadata = disclosure.art15_information(_datasets(), CLASSIFICATION, POLICY, request_id="req-1", now=now)
    files = package.access_files(_datasets(), metadata)
    sha = package.write_zip(tmp_path / "out" / "req-1.zip", files, now=now)
    assert sha == hashlib.sha256((tmp_path / "out" / "req-1.zip").read_bytes()).hexdigest()
    with zipfile.ZipFile(tmp_path / "out" / "req-1.zip") as z:
        manifest = json.loads(z.read("manifest.json"))["files"]
        assert set(manifest) == set(z.namelist()) - {"manifest.json", "SHA256SUMS"}
        assert all(hashlib.sha256(z.read(n)).hexdigest() == h for n, h in manifest.items())
        page = z.read("overzicht.nl.html").decode()
        assert "<script>alert" not in page and "&lt;script&gt;" in page and "lang='nl'" in page
        assert "De mappen json/ en csv/ bevatten dezelfde gegevens" in page  # plural, as the folders are
        assert "Autoriteit Persoonsgegevens" in z.read("summary.en.html").decode()
        assert list(pd.read_csv(io.BytesIO(z.read("csv/raw.crm_customers.csv"))).columns) == ["subject_id", "first_name"]
        assert z.read("csv/raw.crm_customers.csv").startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    assert stat.S_IMODE((tmp_path / "out" / "req-1.zip").stat().st_mode) == 0o600


def test_access_csv_shows_a_formula_as_text_and_json_keeps_it(now):
    crm = CLASSIFICATION.table("crm_customers", "source")
    row = {"first_name": '=HYPERLINK("http://x","klik")', "city": "@SUM(1)", "phone": "+SUM(1)",
           "email": "-SUM(1)", "note": "\t=1", "amount": Decimal("-5.00"), "visits": -3, "plain": "plain text",
           "margin": "-2.50", "street": "x;=cmd|' /C calc'!A0"}  # raw amounts are text; Dutch Excel splits on ';'
    datasets = [Dataset(Relation("raw", "crm_customers", False, tuple(row)), crm, list(row), [row])]
    metadata = disclosure.art15_information(datasets, CLASSIFICATION, POLICY, request_id="req-1", now=now)
    files = package.access_files(datasets, metadata)
    text = files["csv/raw.crm_customers.csv"].decode("utf-8-sig")
    cells = next(csv.reader(io.StringIO(text.splitlines()[1])))
    assert cells == ["'=HYPERLINK(\"http://x\",\"klik\")", "'@SUM(1)", "'+SUM(1)", "'-SUM(1)", "'\t=1",
                     "-5.00", "-3", "plain text", "-2.50", "x;=cmd|' /C calc'!A0"]
    assert '"x;=cmd|\' /C calc\'!A0"' in text  # quoted: a spreadsheet splitting on ';' keeps it one text cell
    assert json.loads(files["json/raw.crm_customers.json"])[0]["first_name"] == row["first_name"]


def test_third_persons_found_through_the_blind_name_index_are_those_of_the_full_list():
    from privacy.redact import Redactor
    from privacy.rights import names

    people = [("Fenna", "Smits", "f.smits@example.nl"), ("Jan-Willem", "de Vries", None), ("Anna", "Bakker", None),
              ("Piet", "Jansen", None)]
    index = {(kind, key) for f, s, _ in people for kind, key in names.person_keys(f, s)}
    emails = {e for *_, e in people if e}
    texts = ["Buurvrouw Fenna Smits (f.smits@example.nl) belde; mevr. Bakker ook. Hoi Anna! Jan-Willem de Vries "
             "en J. Jansen niet.", "Geen namen hier, wel 0612345678."]
    found = names.persons_in(texts, lambda kind, keys: {k for k in keys if (kind, k) in index}, lambda a: a & emails)
    assert len(found) < 4 * len(people) and Redactor(found).redact(texts) == Redactor(people).redact(texts)


def test_articles_are_cited_as_the_dutch_cite_them():
    from privacy.rights.texts import cite

    assert cite("Art. 7(3) GDPR", "nl") == "art. 7 lid 3 AVG"
    assert cite("Art. 16 GDPR", "nl") == "art. 16 AVG"
    assert cite("Art. 6(1)(f) GDPR", "nl") == "art. 6 lid 1 onder f AVG"
    assert cite("Art. 7(3) GDPR", "en") == "Art. 7(3) GDPR"


def test_the_page_shows_times_on_the_dutch_clock_and_numbers_as_the_reader_writes_them(now):
    """Art. 12(1): the page a data subject reads; json/ and csv/ keep every value as stored (Art. 20)."""
    from privacy.rights import summary

    crm = CLASSIFICATION.table("crm_customers", "source")
    row = {"subject_id": "a" * 64, "customer_since": "2022-11-29", "_source_file": "2026-11-01.csv",
           "exported_at": datetime(2022, 11, 29, 18, 35, 14), "amount": Decimal("1234.50"), "p_alive": 0.9966742,
           "is_granted": False, "gender": "X", "purpose": "telemarketing", "text_redacted": "Belde <PERSON>."}
    datasets = [Dataset(Relation("raw", "crm_customers", False, tuple(row)), crm, list(row), [row])]
    metadata = disclosure.art15_information(datasets, CLASSIFICATION, POLICY, request_id="req-1", now=now)
    nl, en = summary.render(metadata, datasets, "nl"), summary.render(metadata, datasets, "en")
    cells = "<td>29 november 2022</td><td>29 november 2022, 19:35</td><td>1.234,50</td><td>0,997</td><td>nee</td>"
    assert cells in nl  # 18:35 UTC is 19:35 in Amsterdam in November
    assert "<td>29 November 2022</td><td>29 November 2022, 19:35</td><td>1,234.50</td><td>0.997</td><td>no</td>" in en
    # a code as what it means, the consent purpose as the policy words it
    assert f"<td>anders of niet opgegeven</td><td>{html.escape(POLICY.consent_plain['telemarketing']['nl'])}</td>" in nl
    assert metadata["codes"]["gender"] == {"X": {"nl": "anders of niet opgegeven", "en": "other or not stated"}}
    assert "<td>Belde [naam afgeschermd].</td>" in nl and "<td>Belde [name hidden].</td>" in en  # not '&lt;PERSON&gt;'
    from privacy.redact import ENTITIES

    assert set(texts.HIDDEN) == set(ENTITIES)  # every placeholder redaction leaves has its words
    assert "a" * 64 not in nl and "_source_file" not in nl  # the pseudonym and our bookkeeping: in json/ only
    files = package.access_files(datasets, metadata)
    assert json.loads(files["json/raw.crm_customers.json"])[0]["subject_id"] == "a" * 64


def test_every_code_a_column_may_hold_has_its_meaning_for_the_export():
    """Art. 12(1), 15(1)(h): each value the expectation suites, dbt's accepted_values tests and the
    segment seeds allow in a column the pages translate (privacy.rights.values) has its text."""
    from expectations.suites import SOURCES, build_suite
    from privacy.rights.values import VALUES

    allowed = [(e.configuration.kwargs["column"], e.configuration.kwargs["value_set"])
               for source in SOURCES for e in build_suite(source, datetime(2026, 12, 1)).expectations
               if e.configuration.kwargs.get("value_set")]
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    allowed += [(n["column_name"], n["test_metadata"]["kwargs"]["values"]) for n in manifest["nodes"].values()
                if (n.get("test_metadata") or {}).get("name") == "accepted_values"]
    for seed, column in (("rfm_segments", "segment"), ("pyramid_tiers", "tier")):
        with (DBT_PROJECT_DIR / "seeds" / f"{seed}.csv").open(encoding="utf-8") as f:
            allowed.append((column, [r[column] for r in csv.DictReader(f)]))
    known = {**VALUES, "lead_source": texts.LEAD_SOURCES, "purpose": POLICY.consent_plain}
    missing = {(column, v) for column, values in allowed if column in known for v in values if v not in known[column]}
    assert {c for c, _ in allowed} >= {"gender", "status", "channel", "action", "purpose", "stage", "segment", "tier"}
    assert missing == set()


def test_a_warehouse_restored_from_before_an_erasure_has_the_subject_erased_again(tmp_path, keystore, pseudonymiser,
                                                                                  audit, now):
    """Art. 17(1), 5(2): restoring a backup older than an erasure must not bring the subject back."""
    from privacy.retention import subjects_left
    from privacy.rights.erasure import erase_again

    warehouse, backup = tmp_path / "w.duckdb", tmp_path / "backup.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        jan, anna = _warehouse(con, keystore, pseudonymiser, now)
    shutil.copy(warehouse, backup)  # the nightly backup
    with duckdb.connect(str(warehouse)) as con:
        erase(con, [jan], keystore=keystore, classification=CLASSIFICATION, policy=POLICY, audit=audit, actor="test",
              now=now)
    shutil.copy(backup, warehouse)  # restored after disk trouble: jan's rows are back
    with duckdb.connect(str(warehouse)) as con:
        assert jan in subjects_left(con)
        again = erase_again(con, subjects_left(con), keystore=keystore, classification=CLASSIFICATION, policy=POLICY,
                            audit=audit, now=now)
        assert again == [jan]
        for rel in subject_relations(con):
            assert con.execute(f"select count(*) from {rel.sql} where subject_id = ?", [jan]).fetchone()[0] == 0
        assert con.execute("select count(*) from raw.orders where subject_id like 'anon-%'").fetchone()[0] == 2
        assert con.execute("select count(*) from raw.crm_customers where subject_id = ?", [anna]).fetchone()[0] == 2
        assert erase_again(con, subjects_left(con), keystore=keystore, classification=CLASSIFICATION, policy=POLICY,
                           audit=audit, now=now) == []  # once is enough
    events = [e["event"] for e in audit.entries()]
    assert events[-2:] == ["erasure", "erasure_reapplied"] and events.count("erasure_reapplied") == 1


def test_the_sweep_erases_every_subject_of_an_erasure_stopped_between_two_keys(tmp_path, keystore, pseudonymiser,
                                                                               audit, now):
    """Review: an erasure of two subjects (a customer and their own lead) stopped after destroying the
    first key. The sweep erased only that subject in the request's name and recorded it; the retake
    then erased the second and recorded it over the first: the receipt no longer named the first
    one's orders kept for the fiscal duty (a demo: 15 rows removed and 3 orders kept, of 25 and 11).
    All of the request's subjects are erased together, as the request would have."""
    from privacy.retention import subjects_left
    from privacy.rights.erasure import erase_again

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        jan, anna = _warehouse(con, keystore, pseudonymiser, now)
        keystore.shred(jan, now=now, actor="request:r1")  # the first attempt stopped here
        recorded = {}
        again = erase_again(con, subjects_left(con), keystore=keystore, classification=CLASSIFICATION,
                            policy=POLICY, audit=audit, now=now, unfinished={"r1": [jan, anna]},
                            record=recorded.__setitem__)
        assert sorted(again) == sorted([jan, anna]) and not {jan, anna} & subjects_left(con)
        assert sum(r["rows"] for r in recorded["r1"].removed) == sum(
            e["details"]["removed"][t] for e in audit.entries() if e["event"] == "erasure" for t in e["details"]["removed"])
        assert not keystore.has(anna)
    assert [e["actor"] for e in audit.entries() if e["event"] == "erasure"] == ["request:r1"]


def test_a_purpose_based_on_consent_is_named_only_to_a_subject_who_granted_it(now):
    """Art. 12(1), 15(1)(a): a lead (no consent is recorded of leads) was told their pyramid tier
    serves offers "only if you agreed"; it does not, so direct marketing is no purpose of theirs."""
    leads, pyramid = CLASSIFICATION.table("leads", "source"), CLASSIFICATION.table("customer_pyramid", "model")
    consents = CLASSIFICATION.table("int_consents_resolved", "model")
    lead = [Dataset(Relation("raw", "leads", False, ("subject_id", "lead_id")), leads, ["subject_id", "lead_id"],
                    [{"subject_id": "b" * 64, "lead_id": "L0000001"}]),
            Dataset(Relation("marts", "customer_pyramid", False, ("subject_id", "tier")), pyramid,
                    ["subject_id", "tier"], [{"subject_id": "b" * 64, "tier": "prospect"}])]

    def purposes(datasets):
        art = disclosure.art15_information(datasets, CLASSIFICATION, POLICY, request_id="req-1", now=now)["art15"]
        return {p["purpose"] for p in art["purposes"]["content"]}

    assert "direct_marketing" not in purposes(lead) and "analytics" in purposes(lead)
    for granted, told in ((False, False), (True, True)):  # withdrawn, then granted
        rows = [{"subject_id": "b" * 64, "purpose": "marketing_email", "is_granted": granted}]
        resolved = Dataset(Relation("intermediate", "int_consents_resolved", False, tuple(rows[0])), consents,
                           list(rows[0]), rows)
        event = {"subject_id": "b" * 64, "purpose": "marketing_email", "action": "granted" if granted else "withdrawn"}
        events = Dataset(Relation("raw", "consent_events", False, tuple(event)), CLASSIFICATION.table(
            "consent_events", "source"), list(event), [event])  # what int_consents_resolved is computed from
        assert ("direct_marketing" in purposes([*lead, events, resolved])) is told


def test_a_letter_says_each_text_for_the_subject_once_in_the_request_language():
    """Art. 12(1): the receipt holds both languages; the letter to send holds the request's, every
    text once (the erasure's explanation repeats the key's effect), in the receipt's order."""
    from privacy.rights.letter import letter

    document = {"request_id": "req-0123456789abcdef0123", "type": "erasure", "language": "en",
                "received_at": "2026-11-30T23:30:00Z", "article": "Art. 17 GDPR",
                "before": {"nl": "Gewist.", "en": "Erased."},  # held by a later text: said there
                "explanation": {"nl": "Gewist. Sleutel weg.", "en": "Erased. Key gone."},
                "kept": [{"table": "orders", "legal_duty": "fiscal"}],
                "key": {"effect": {"nl": "Sleutel weg.", "en": "Key gone."}},
                "after": {"nl": "Klacht.", "en": "Complaint."}}
    said = letter(document, {"name": "Shop B.V.", "contact": "privacy@shop.example"},
                  datetime(2026, 12, 7, 9, tzinfo=timezone.utc))
    assert said.splitlines()[:2] == ["Shop B.V.", "privacy@shop.example"]
    assert "Re: your request to erase your data (Art. 17 GDPR), received on 1 December 2026" in said  # Dutch clock
    assert "Date: 7 December 2026" in said and said.count("Key gone.") == 1 and "Sleutel" not in said
    assert said.count("Erased.") == 1
    assert said.index("Erased.") < said.index("Complaint.") and said.rstrip().endswith("Shop B.V.")
    assert "Geachte heer, mevrouw," in letter({**document, "language": "nl"}, {}, datetime(2026, 12, 7, tzinfo=timezone.utc))



def test_the_dutch_page_writes_an_order_amount_as_a_dutch_reader_does(now):
    """Art. 12(1): the raw layer keeps an order's amount as delivered text ('1191.39'); the page showed
    it so, beside totals written Dutch style ('1.500,62'). json/ and csv/ keep it as stored (Art. 20)."""
    from privacy.rights import summary

    orders = CLASSIFICATION.table("orders", "source")
    order = {"subject_id": "a" * 64, "order_id": "O000000001", "amount": "1191.39", "margin": "-2.50"}
    datasets = [Dataset(Relation("raw", "orders", False, tuple(order)), orders, list(order), [order])]
    metadata = disclosure.art15_information(datasets, CLASSIFICATION, POLICY, request_id="req-1", now=now)
    assert "<td>O000000001</td><td>1.191,39</td><td>-2,50</td>" in summary.render(metadata, datasets, "nl")
    assert "<td>O000000001</td><td>1,191.39</td><td>-2.50</td>" in summary.render(metadata, datasets, "en")
    files = package.access_files(datasets, metadata)
    assert json.loads(files["json/raw.orders.json"])[0]["amount"] == "1191.39"
    assert '"1191.39","-2.50"' in files["csv/raw.orders.csv"].decode("utf-8-sig")


def test_the_page_writes_a_count_with_the_reader_s_thousands_separator(now):
    """Art. 12(1): a count or rank of 1500 showed as '1500' beside a total of '1.500,62'."""
    from privacy.rights import summary

    pyramid = CLASSIFICATION.table("customer_pyramid", "model")
    row = {"subject_id": "a" * 64, "orders": 1234, "revenue": Decimal("1500.62"), "revenue_rank": 1500, "tier": "small"}
    datasets = [Dataset(Relation("marts", "customer_pyramid", False, tuple(row)), pyramid, list(row), [row])]
    metadata = disclosure.art15_information(datasets, CLASSIFICATION, POLICY, request_id="req-1", now=now)
    assert "<td>1.234</td><td>1.500,62</td><td>1.500</td>" in summary.render(metadata, datasets, "nl")
    assert "<td>1,234</td><td>1,500.62</td><td>1,500</td>" in summary.render(metadata, datasets, "en")
    files = package.access_files(datasets, metadata)
    assert json.loads(files["json/marts.customer_pyramid.json"])[0]["revenue_rank"] == 1500
    assert '"1234","1500.62","1500"' in files["csv/marts.customer_pyramid.csv"].decode("utf-8-sig")


def test_a_lead_is_told_only_the_purposes_its_own_data_serves(now):
    """Art. 12(1), 15(1)(a): a lead is in the customer pyramid, whose tier column serves account
    management and the satisfaction figures too, as it does for customers; a lead's export named
    both, though no lead gets an account manager or answers a survey. A figure computed from a
    subject's records serves a purpose for that subject only when those records serve it."""
    leads, crm = CLASSIFICATION.table("leads", "source"), CLASSIFICATION.table("crm_customers", "source")
    nps, pyramid = CLASSIFICATION.table("nps_responses", "source"), CLASSIFICATION.table("customer_pyramid", "model")

    def one(schema, table, row):
        return Dataset(Relation(schema, table.name, False, tuple(row)), table, list(row), [row])

    def purposes(datasets):
        art = disclosure.art15_information(datasets, CLASSIFICATION, POLICY, request_id="req-1", now=now)["art15"]
        return {p["purpose"]: p["datasets"] for p in art["purposes"]["content"]}

    tier = one("marts", pyramid, {"subject_id": "b" * 64, "revenue_window": Decimal("0.00"), "tier": "prospect"})
    lead = purposes([one("raw", leads, {"subject_id": "b" * 64, "lead_id": "L0000001", "stage": "prospect",
                                        "_source_file": "2026-11-01.csv"}), tier])
    assert set(lead) == {"lead_generation", "analytics", "privacy_compliance"}
    assert lead["analytics"] == ["marts.customer_pyramid", "raw.leads"]
    customer = purposes([one("raw", crm, {"subject_id": "a" * 64, "customer_id": "C0000001", "account_manager": "AM01"}),
                         one("raw", nps, {"subject_id": "a" * 64, "score": "9"}), tier])
    assert {"account_management", "service_quality", "analytics"} <= set(customer)
    assert "marts.customer_pyramid" in customer["account_management"]
    assert customer["service_quality"] == ["marts.customer_pyramid", "raw.nps_responses"]


def test_the_profiling_on_the_page_is_named_as_the_subject_reads_it(now):
    """Art. 12(1), 15(1)(h): the page named each profile by its model ('customer_clv:', 'key_accounts:')
    and pointed to 'belangrijkste klanten' and 'marketingdoelgroep', and to an RFM segment 'trouwe
    klant', names the page shows nowhere."""
    from privacy.rights import summary
    from privacy.rights.values import VALUES

    metadata = disclosure.art15_information(_datasets(), CLASSIFICATION, POLICY, request_id="req-1", now=now)
    models = metadata["art15"]["profiling"]["content"]["models"]
    for lang in texts.LANGUAGES:
        page = summary.render(metadata, _datasets(), lang)
        items = page.split(f"<h2>{summary.LABELS[lang]['profiling']}</h2>")[1].split("</ul>")[0]
        for m in models:
            title = CLASSIFICATION.table(m["model"], "model").title[lang]
            assert m["title"][lang] == title and f"<li>{html.escape(title)}" in items, m["model"]
            assert f"{m['model']}:" not in items and f"{m['model']} (" not in items
        for named in re.findall(r"'([^']+)'", html.unescape(items)):  # a profile another one points to
            said = {m["title"][lang] for m in models} | {t[lang == "en"] for t in VALUES["segment"].values()}
            assert named in said, named  # or an RFM segment as the page shows it


def test_a_withdrawal_s_unknown_notice_version_is_said_in_the_page_s_language(now):
    """Art. 12(1): the withdrawal an objection records for a customer of whom no consent event is
    kept has notice version 'unknown', which the Dutch page showed in English."""
    from privacy.rights import summary

    [event] = consent.withdrawal_events("req-1", "C0000001", ["telemarketing"], now, "unknown")
    row = {"subject_id": "a" * 64, **{k: v for k, v in event.items() if k != "customer_id"}}
    datasets = [Dataset(Relation("raw", "consent_events", False, tuple(row)),
                        CLASSIFICATION.table("consent_events", "source"), list(row), [row])]
    metadata = disclosure.art15_information(datasets, CLASSIFICATION, POLICY, request_id="req-1", now=now)
    nl = summary.render(metadata, datasets, "nl")
    assert "<td>onbekend</td>" in nl and ">unknown<" not in nl
    assert "<td>unknown</td>" in summary.render(metadata, datasets, "en")
    assert json.loads(package.access_files(datasets, metadata)["json/raw.consent_events.json"])[0][
        "notice_version"] == "unknown"
