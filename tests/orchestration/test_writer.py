"""The raw-layer writer gives the same raw rows however a file is cut into chunks or split between
this process and the helper process, and validation gives the same verdicts on Arrow and pandas."""

import base64
import shutil
from datetime import datetime, timezone

import duckdb
import pandas as pd
import pytest

from expectations import SOURCES, validate
from orchestration.demo.defects import inject_defects
from orchestration.ingest import parallel, writer
from orchestration.ingest.context import IngestContext
from orchestration.ingest.reader import read_landing_table
from orchestration.ingest.sources import source_files
from orchestration.settings import DBT_PROJECT_DIR, Paths
from privacy.classification import load_classification
from privacy.crypto import decrypt_columns

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
TABLES = [t for t in load_classification(DBT_PROJECT_DIR).tables if t.layer == "source" and t.subject]


@pytest.fixture(scope="module")
def landing(tiny_landing, tmp_path_factory):
    home = tmp_path_factory.mktemp("writer")
    shutil.copytree(tiny_landing / "landing", home / "landing")
    inject_defects(home / "landing", 0.02, seed=9)
    return home


def _demo_keys(monkeypatch):
    """Fixed master and pseudonym keys from the environment, as an installation may give them."""
    monkeypatch.setenv("KLANTKLUIS_MASTER_KEY", base64.b64encode(b"m" * 32).decode())
    monkeypatch.setenv("KLANTKLUIS_PSEUDONYM_KEY", base64.b64encode(b"p" * 32).decode())


def _open(home, keys, now):
    """The load context of ``home`` with the key folder ``keys``: the tests share one landing zone,
    each with keys of its own, so each starts an audit log of its own (kept with that folder's audit.key)."""
    paths = Paths.from_home(home, keys)
    for log in paths.state.glob("audit.jsonl*"):
        log.unlink()
    return IngestContext.open(paths, now)


def _load(home, name, monkeypatch, *, chunk_rows, parallel_min_rows):
    _demo_keys(monkeypatch)
    monkeypatch.setattr(writer, "PARALLEL_MIN_ROWS", parallel_min_rows)
    ctx = _open(home, home / f"keys-{name}", NOW)
    paths = ctx.paths
    ctx.keystore.shred(ctx.pseudonymiser.subject_id("customer", "C0000005"))  # suppressed, not loaded
    out = {}
    with duckdb.connect(str(home / f"{name}.duckdb")) as con:
        for table in TABLES:
            for path in source_files(paths, table.name):
                result = writer.load_file(con, table, path, ctx, chunk_rows=chunk_rows)
                assert result.reconciles()
            out[table.name] = _decrypted(con, table, ctx)
        out["_quarantine"] = con.execute("select source, file, line, rule, subject_id from raw._quarantine "
                                         "order by source, file, line").df()
    ctx.close()
    return out


def _decrypted(con, table, ctx) -> pd.DataFrame:
    df = con.execute(f'select * exclude (_batch_id) from raw."{table.name}" order by _source_file, _source_line').df()
    secret = [c.name for c in table.columns if c.transform == "encrypt"]
    plain = decrypt_columns({c: [bytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else None for v in df[c]] for c in secret},
                            df["subject_id"].tolist(), table.name, ctx.keystore, purpose="test")
    return df.assign(**plain)


def test_chunks_and_the_helper_process_change_nothing(landing, monkeypatch):
    whole = _load(landing, "whole", monkeypatch, chunk_rows=1_000_000, parallel_min_rows=10**9)
    sent = []
    original = parallel.Helper.protect
    monkeypatch.setattr(parallel.Helper, "protect", lambda self, table, rows, *a: sent.append(table.name)
                        or original(self, table, rows, *a))
    split = _load(landing, "split", monkeypatch, chunk_rows=97, parallel_min_rows=20)
    if parallel.available():
        assert {"crm_customers", "interactions"} <= set(sent)
    assert whole.keys() == split.keys()
    for name in whole:
        pd.testing.assert_frame_equal(whole[name], split[name], obj=name)
    assert len(whole["_quarantine"]) > 0 and len(whole["orders"]) > 0


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_arrow_and_pandas_frames_get_the_same_verdicts(landing, source):
    for path in sorted((landing / "landing" / source).iterdir()):
        read = read_landing_table(path, SOURCES[source])
        frame = read.rows.drop_columns(["_source_line"]).to_pandas()
        on_arrow, on_pandas = validate(source, read.rows, NOW), validate(source, frame, NOW)
        pd.testing.assert_frame_equal(on_arrow.failures.astype({"row_index": "int64"}),
                                      on_pandas.failures.astype({"row_index": "int64"}))
        assert on_arrow.collapsed == on_pandas.collapsed
        assert on_arrow.table_failures == on_pandas.table_failures


def _orders(home, monkeypatch, tmp_path):
    _demo_keys(monkeypatch)
    ctx = _open(home, tmp_path / "keys", NOW)
    return ctx, next(t for t in TABLES if t.name == "orders"), source_files(ctx.paths, "orders")[0]


def test_rows_are_stored_by_subject_and_in_file_order_within_one(landing, monkeypatch, tmp_path):
    ctx, table, path = _orders(landing, monkeypatch, tmp_path)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        result = writer.load_file(con, table, path, ctx, chunk_rows=50)
        stored = con.execute('select subject_id, _source_line from raw.orders').fetchall()  # storage order
    ctx.close()
    assert result.loaded == len(stored) > 100
    assert stored == sorted(stored)


def test_a_long_file_load_says_how_far_it_is_in_counts_and_a_quick_one_says_nothing(landing, monkeypatch, tmp_path):
    ctx, table, path = _orders(landing, monkeypatch, tmp_path)
    quick, slow = [], []
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        writer.load_file(con, table, path, ctx, chunk_rows=50, progress=quick.append)
        monkeypatch.setattr(writer, "PROGRESS_SECONDS", 0.0)  # every step of the load is "long" now
        result = writer.load_file(con, table, path, ctx, chunk_rows=50, progress=slow.append, full_refresh=True)
    ctx.close()
    assert quick == []
    assert slow[0] == f"read {result.input_rows:,} rows; validating"
    assert slow[1] == (f"validated: {result.loaded:,} rows to load, {result.quarantined:,} to quarantine, "
                       f"{result.suppressed:,} of erased subjects") and result.quarantined > 0
    assert slow[2:] == [f"{n:,} of {result.loaded:,} rows protected" for n in range(50, result.loaded, 50)]


def test_a_table_protected_value_by_value_is_loaded_in_smaller_chunks(landing, monkeypatch, tmp_path):
    """Encryption and redaction hold each value as a Python object while its chunk is in flight: such
    a table goes in PER_VALUE_CHUNK_ROWS at a time (memory of a 1 M-customer CRM load), a vectorised
    one in CHUNK_ROWS (10 M orders load faster in larger chunks)."""
    _demo_keys(monkeypatch)
    monkeypatch.setattr(writer, "CHUNK_ROWS", 1_000_000)
    monkeypatch.setattr(writer, "PER_VALUE_CHUNK_ROWS", 40)
    monkeypatch.setattr(writer, "PARALLEL_MIN_ROWS", 10**9)
    chunks = []
    original = writer.protect_table
    monkeypatch.setattr(writer, "protect_table", lambda table, rows, **kw: chunks.append((table.name, rows.num_rows))
                        or original(table, rows, **kw))
    ctx = _open(landing, tmp_path / "keys", NOW)
    loaded = {}
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        for name in ("crm_customers", "orders"):
            table = next(t for t in TABLES if t.name == name)
            loaded[name] = writer.load_file(con, table, source_files(ctx.paths, name)[0], ctx).loaded
    ctx.close()
    sizes = {name: [n for t, n in chunks if t == name] for name in loaded}
    assert loaded["crm_customers"] > 80 and sizes["crm_customers"][:2] == [40, 40]
    assert sum(sizes["crm_customers"]) == loaded["crm_customers"]
    assert sizes["orders"] == [loaded["orders"]] and loaded["orders"] > 40


def test_an_error_while_protecting_rows_is_raised_as_it_is_and_nothing_is_loaded(landing, monkeypatch, tmp_path):
    ctx, table, path = _orders(landing, monkeypatch, tmp_path)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # a later chunk, while DuckDB is already inserting the first ones
            raise RuntimeError("protection failed")
        return original(*args, **kwargs)

    original = writer.protect_table
    monkeypatch.setattr(writer, "protect_table", failing)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        with pytest.raises(RuntimeError, match="protection failed"):
            writer.load_file(con, table, path, ctx, chunk_rows=50)
        counts = con.execute("select (select count(*) from raw.orders), (select count(*) from raw._batches)").fetchone()
    ctx.close()
    assert counts == (0, 0)


@pytest.mark.parametrize("error", [PermissionError, KeyboardInterrupt])
def test_a_load_the_audit_log_cannot_record_or_that_is_interrupted_is_not_made(error, landing, monkeypatch, tmp_path):
    """Crash review: rows were committed, then the audit entry failed: a load with no record (Art. 5(2)).
    An interrupt (Ctrl-C, a run stopped from the UI) is no Exception: it left the load half-made in an
    open transaction, which this connection's next load could not begin."""
    ctx, table, path = _orders(landing, monkeypatch, tmp_path)
    append = ctx.audit.append

    def failing(event, **kwargs):
        if event == "ingest_batch":  # the keys were made and recorded; the load's entry fails
            raise error()
        return append(event, **kwargs)

    monkeypatch.setattr(ctx.audit, "append", failing)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        with pytest.raises(error):
            writer.load_file(con, table, path, ctx, chunk_rows=50)
        counts = con.execute("select (select count(*) from raw.orders), (select count(*) from raw._batches)").fetchone()
        monkeypatch.setattr(ctx.audit, "append", append)
        loaded = writer.load_file(con, table, path, ctx, chunk_rows=50).loaded
    ctx.close()
    assert counts == (0, 0) and loaded > 0


def test_loading_a_file_again_replaces_its_rows_and_keeps_when_they_were_first_quarantined(
        landing, monkeypatch, tmp_path):
    _demo_keys(monkeypatch)
    table = next(t for t in TABLES if t.name == "orders")
    path = tmp_path / "orders.csv"
    shutil.copy(source_files(Paths.from_home(landing), "orders")[0], path)
    later = NOW.replace(month=12, day=30)
    quarantined = "select count(*), min(loaded_at), max(loaded_at) from raw._quarantine"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        for now in (NOW, later):  # the same content again, 37 days later (past the quarantine's 30 days)
            ctx = _open(landing, tmp_path / "keys", now) if now == NOW else IngestContext.open(
                Paths.from_home(landing, tmp_path / "keys"), now)
            result = writer.load_file(con, table, path, ctx, full_refresh=True)
            ctx.close()
            assert result.reconciles() and result.quarantined > 0
            assert con.execute(quarantined).fetchone() == (result.quarantined, NOW, NOW)
            assert con.execute("select count(*) from raw.orders").fetchone()[0] == result.loaded
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join(lines[:-1]))  # changed content: its rows are new, and so is their quarantine
        ctx = IngestContext.open(Paths.from_home(landing, tmp_path / "keys"), later)
        result = writer.load_file(con, table, path, ctx)
        ctx.close()
        assert con.execute(quarantined).fetchone()[1:] == (later, later)
        assert con.execute("select count(*) from raw._batches").fetchone()[0] == 3


def test_loading_a_file_again_keeps_what_a_rectification_corrected_in_its_rows(landing, monkeypatch, tmp_path):
    """Art. 16: a reload puts back the landing file's values; the corrected ones are carried over."""
    from privacy.crypto import decrypt_values
    from privacy.rights.rectify import rectify

    _demo_keys(monkeypatch)
    table = next(t for t in TABLES if t.name == "crm_customers")
    path = tmp_path / "customers.csv"
    shutil.copy(source_files(Paths.from_home(landing), "crm_customers")[0], path)
    ctx = _open(landing, tmp_path / "keys", NOW)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        writer.load_file(con, table, path, ctx)
        sid, key = con.execute("select subject_id, customer_id from raw.crm_customers order by _source_line "
                               "limit 1").fetchone()
        [number] = decrypt_values([key], [sid], table.name, "customer_id", ctx.keystore, purpose="test")
        con.execute("create schema snapshots")
        for field, value in (("postcode", "9898 ZX"), ("phone", "0687654321")):
            rectify(con, table, sid, number, field, value, keystore=ctx.keystore, pseudonymiser=ctx.pseudonymiser,
                    audit=ctx.audit, actor="test", now=NOW)
        reloaded = writer.load_file(con, table, path, ctx, full_refresh=True)
        postcode, area, phone, marks = con.execute("select postcode, postcode_area, phone, _rectified from "
                                                   "raw.crm_customers where subject_id = ?", [sid]).fetchone()
        others = con.execute("select count(*) from raw.crm_customers where _rectified is not null").fetchone()[0]
        path.write_bytes(path.read_bytes() + b"\n")  # the source delivers the file again, changed: its word stands
        changed = writer.load_file(con, table, path, ctx)
        now_area = con.execute("select postcode_area from raw.crm_customers where subject_id = ?", [sid]).fetchone()[0]
    assert changed.corrections_dropped == 1 and changed.corrections_kept == 0 and now_area != "9898"
    assert reloaded.corrections_kept == 1 and reloaded.reconciles() and others == 1
    assert reloaded.replaced == 0 < changed.replaced  # the old content's bytes await a compaction
    assert decrypt_values([postcode], [sid], table.name, "postcode", ctx.keystore, purpose="test") == ["9898 ZX"]
    assert area == "9898" and marks == "postcode,phone"
    assert decrypt_values([phone], [sid], table.name, "phone", ctx.keystore, purpose="test") == ["0687654321"]
    [entry] = [e for e in ctx.audit.entries() if e["event"] == "ingest_batch"][-2:-1]
    assert entry["details"]["corrections_kept"] == 1
    ctx.close()


def test_a_column_declared_after_the_table_was_made_is_added_and_one_no_longer_declared_stays(
        landing, monkeypatch, tmp_path):
    """Upgrade review: a new release declared an optional orders column; every later ingest of orders
    failed on the existing warehouse with DuckDB's binder error. The column is now added (null in
    the rows loaded before) and recorded in the audit log (Art. 5(2)); a column taken out of the
    declaration again keeps its values (nothing is dropped in silence)."""
    from dataclasses import replace

    ctx, older, path = _orders(landing, monkeypatch, tmp_path)
    at = next(i for i, c in enumerate(older.columns) if c.name == "channel")  # classified as the channel is
    new = replace(older.columns[at], name="delivery_method", from_column="delivery_method", optional=True,
                  title={"nl": "Bezorgwijze", "en": "Delivery method"})
    newer = replace(older, columns=(*older.columns[:at + 1], new, *older.columns[at + 1:]))
    header = "order_id,customer_id,order_date,amount,margin,product_category,channel,payment_method"
    row = "O9{n:08d},C{n:07d},2026-11-23,10.00,2.00,books,web,ideal"
    with_it, without = tmp_path / "2026-11-24.csv", tmp_path / "2026-11-25.csv"
    with_it.write_text(f"{header},delivery_method\n" + "".join(row.format(n=n) + ",post\n" for n in range(1, 4)))
    without.write_text(f"{header}\n" + "".join(row.format(n=n) + "\n" for n in range(4, 6)))
    held = "select _source_file, count(*), count(delivery_method) from raw.orders group by 1 order by 1"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        before = writer.load_file(con, older, path, ctx)  # the older release made raw.orders
        writer.load_file(con, newer, with_it, ctx)  # the upgrade declares delivery_method
        upgraded = con.execute(held).fetchall()
        writer.load_file(con, older, without, ctx)  # and a later release no longer does
        downgraded = con.execute(held).fetchall()
        typed = con.execute("select data_type from duckdb_columns() where table_name = 'orders' "
                            "and column_name = 'delivery_method'").fetchone()
    ctx.close()
    assert upgraded == [(path.name, before.loaded, 0), (with_it.name, 3, 3)] and typed == ("VARCHAR",)
    assert downgraded == [*upgraded, (without.name, 2, 0)]  # its values stay
    [entry] = [e for e in ctx.audit.entries() if e["event"] == "raw_columns_added"]
    assert entry["details"] == {"table": "orders", "columns": ["delivery_method"]}


def test_a_lost_rectification_is_told_apart_from_one_a_changed_file_replaced(landing, monkeypatch, tmp_path):
    """Art. 16, 5(1)(d): rectifications_lost names a rectification a restore took out, also once the restored
    files were loaded again unchanged (``--reload``: their rows were then loaded after the request); not one
    whose corrected rows a changed file replaced since, the source's word standing (the writer's
    corrections_dropped), while the subject's earlier version from another file, never corrected, is left."""
    import csv
    import io
    import json
    from datetime import timedelta
    from types import SimpleNamespace

    from orchestration.requests.changes import rectifications_lost
    from privacy.crypto import decrypt_values
    from privacy.rights.rectify import rectify

    _demo_keys(monkeypatch)
    table = next(t for t in TABLES if t.name == "crm_customers")
    lines = source_files(Paths.from_home(landing), "crm_customers")[0].read_bytes().split(b"\n")[:2]
    first = next(csv.DictReader(io.StringIO(b"\n".join(lines).decode())))  # a generated customer
    day1, day2 = tmp_path / "2026-11-20.csv", tmp_path / "2026-11-21.csv"
    for path, phone, exported in ((day1, "0611111111", "2026-11-20 06:00:00"), (day2, "0622222222", "2026-11-21 06:00:00")):
        out = io.StringIO()
        csv.DictWriter(out, fieldnames=list(first)).writeheader()
        csv.DictWriter(out, fieldnames=list(first)).writerow({**first, "phone": phone, "exported_at": exported})
        path.write_text(out.getvalue())
    ctx = _open(landing, tmp_path / "keys", NOW)
    warehouse, backup = tmp_path / "w.duckdb", tmp_path / "backup.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for path in (day1, day2):
            writer.load_file(con, table, path, ctx)
        sid, key = con.execute("select subject_id, customer_id from raw.crm_customers limit 1").fetchone()
    shutil.copy(warehouse, backup)
    request = {"request_id": "req-test-1", "type": "rectification", "completed_at": (NOW + timedelta(hours=1)).isoformat(),
               "subjects": json.dumps([sid]), "detail": json.dumps({"found": True, "field": "phone"})}
    service = SimpleNamespace(ledger=SimpleNamespace(rows=lambda status: [request]))
    later = IngestContext.open(Paths.from_home(landing, tmp_path / "keys"), NOW + timedelta(hours=2))
    with duckdb.connect(str(backup)) as con:  # restored from before the request
        lost = rectifications_lost(service, con)
        for path in (day1, day2):
            writer.load_file(con, table, path, later, full_refresh=True)
        lost_after_reload = rectifications_lost(service, con)
    with duckdb.connect(str(warehouse)) as con:
        [number] = decrypt_values([key], [sid], table.name, "customer_id", ctx.keystore, purpose="test")
        con.execute("create schema snapshots")
        rectify(con, table, sid, number, "phone", "0633333333", keystore=ctx.keystore, pseudonymiser=ctx.pseudonymiser,
                audit=ctx.audit, actor="test", now=NOW)
        kept = rectifications_lost(service, con)
        day2.write_bytes(day2.read_bytes() + b"\n")  # the source delivers the file again, changed: its word stands
        changed = writer.load_file(con, table, day2, later)
        replaced = rectifications_lost(service, con)
    ctx.close()
    later.close()
    assert (lost, lost_after_reload, kept, replaced) == (["req-test-1"], ["req-test-1"], [], [])
    assert changed.corrections_dropped == 1
