"""The ingest step as Dagster runs it: the blocking `expectations` gate judges each current
landing file on its latest load (a file that failed it fails it again when skipped unchanged, until
it is fixed); a run earlier than the last load is refused; a long load logs its progress; a
warehouse held by another process is waited for; a column an older version stored in plain text
is encrypted; a run without a day tag that takes several landing days says so, and a run of a day
stops while an earlier day is not loaded."""


import functools
import json
from datetime import datetime, timezone

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, materialize

from orchestration.assets import ingest
from orchestration.assets.ingest import build_ingest_asset
from orchestration import compaction
from orchestration.ingest import writer
from orchestration.resources import KlantkluisResource
from orchestration.settings import connect_duckdb

pytestmark = pytest.mark.slow
HEADER = "order_id,customer_id,order_date,amount,margin,product_category,channel,payment_method\n"
GOOD = "O{n:07d},C{n:07d},2026-01-0{d},10.00,2.00,books,web,ideal\n"


def _run(home, as_of: str = "2026-02-01T00:00:00+00:00", tags: dict | None = None, source: str = "orders",
         **options):
    """The ingest step's result and the lines it logged."""
    from orchestration.definitions import SOURCES

    asset = build_ingest_asset(next(t for t in SOURCES if t.name == source))
    with DagsterInstance.ephemeral() as instance:
        result = materialize([asset], resources={"klantkluis": KlantkluisResource(home=str(home), **options)},
                             instance=instance, raise_on_error=False, tags={"klantkluis/as_of": as_of, **(tags or {})})
        return result, [e.user_message for e in instance.all_logs(result.run_id)]


def _ingest_orders(home, as_of: str = "2026-02-01T00:00:00+00:00"):
    return _run(home, as_of)[0]


@pytest.fixture
def landing(tmp_path, monkeypatch):
    """The orders landing folder of an installation in tmp_path."""
    monkeypatch.setenv("KLANTKLUIS_HOME", str(tmp_path))
    monkeypatch.delenv("KLANTKLUIS_KEY_DIR", raising=False)
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    return folder


def _orders_gate(home):
    result = _ingest_orders(home)
    [check] = [e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey(["raw", "orders"])]
    return check.passed, check.metadata, check.description


def test_a_failed_file_keeps_failing_the_gate_until_it_is_fixed(tmp_path, landing):
    (landing / "2026-01-01.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 9)))
    bad = landing / "2026-01-02.csv"  # 3 of 4 rows have an amount that is no amount: 75 % quarantined
    bad.write_text(HEADER + GOOD.format(n=20, d=2) + "".join(
        GOOD.format(n=n, d=2).replace("10.00", "ten") for n in range(21, 24)))
    result = _ingest_orders(tmp_path)
    [event] = result.get_asset_materialization_events()  # the UI names each file read and its counts
    assert "| 2026-01-02.csv | loaded | 4 | 1 | 3 | 0 |" in event.materialization.metadata["files_this_run"].value
    [check] = [e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey(["raw", "orders"])]
    passed, metadata, said = check.passed, check.metadata, check.description
    assert not passed and "2026-01-02.csv: 75.0%" in metadata["files_over_max_share"].value
    assert "most often expect_column_values_to_match_regex:amount (3 rows)" in said  # the fix starts here
    result = _ingest_orders(tmp_path)  # nothing changed: both files skipped, the gate still fails
    [check] = [e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey(["raw", "orders"])]
    assert not check.passed and "most often expect_column_values_to_match_regex:amount (3 rows)" in check.description
    assert "| expect_column_values_to_match_regex:amount | 3 |" in check.metadata["failed_rules"].value
    [event] = result.get_asset_materialization_events()  # the rules held, beside the rows held
    metadata = event.materialization.metadata
    assert metadata["quarantine_rows_total"].value == 3
    assert "| expect_column_values_to_match_regex:amount | 3 |" in metadata["quarantine_rules"].value
    assert metadata["quarantine_rules_this_run"].value == "No rule broken."
    assert "| 2026-01-02.csv | unchanged, skipped |" in metadata["files_this_run"].value
    bad.write_text(HEADER + "".join(GOOD.format(n=n, d=2) for n in range(20, 24)))
    passed, metadata, _ = _orders_gate(tmp_path)
    assert passed and metadata["quarantined_share"].value == 0.0


def test_the_gate_names_the_rules_of_the_files_it_stops_not_those_of_the_files_that_passed(tmp_path, landing):
    """Soak test: a file whose amounts all had a decimal comma stopped the run with 'most often
    ...match_regex:amount (15 rows), ...be_between:amount (4 rows)', the second rule from the rows
    other, passing files had in the quarantine: the operator looked for it in the wrong file."""
    (landing / "2026-01-01.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 9)).replace(
        "10.00", "-5.00", 1))  # one negative amount of eight rows: quarantined, the file passes
    (landing / "2026-01-02.csv").write_text(HEADER + GOOD.format(n=20, d=2) + "".join(
        GOOD.format(n=n, d=2).replace("10.00", "ten") for n in range(21, 24)))
    passed, metadata, said = _orders_gate(tmp_path)
    assert not passed and "of the rows of 2026-01-02.csv quarantined" in said
    assert "most often expect_column_values_to_match_regex:amount (3 rows)" in said
    assert "be_between:amount" not in said
    assert "| expect_column_values_to_be_between:amount | 1 |" in metadata["failed_rules"].value  # every current file


def test_a_file_whose_name_is_not_utf8_is_named_with_the_fix_and_the_others_still_load(tmp_path, landing):
    """Security review: a landing file named in another encoding (bytes that are no UTF-8, from a
    Windows share, say) stopped its source, and so the whole run, with a bare pybind11 cast error in
    the load ledger's query, before any file of the source loaded."""
    import os

    (landing / "2026-01-01.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 5)))
    with open(os.path.join(os.fsencode(landing), b"orders-\xe9t\xe9.csv"), "w") as f:
        f.write(HEADER + GOOD.format(n=9, d=1))
    result, said = _run(tmp_path)
    assert not result.success
    assert any("orders-\\xe9t\\xe9.csv: the file's name is not UTF-8 text" in line and "rename it" in line
               for line in said if line)
    with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from raw.orders").fetchone()[0] == 4


def test_a_run_earlier_than_the_last_load_is_refused(tmp_path, landing):
    (landing / "2026-01-01.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 5)))
    assert _ingest_orders(tmp_path).success
    assert _ingest_orders(tmp_path).success  # the same time again is fine: batch ids order the loads
    earlier = _ingest_orders(tmp_path, "2026-01-31T23:00:00+00:00")
    [failure] = [e for e in earlier.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "before the last load of orders at 2026-02-01" in message and "--as-of" in message
    # UI review: launched from the UI, the message named only the command line's options
    assert "From the Dagster UI: give the tag klantkluis/as_of such a time, or leave it out" in message


def test_a_long_load_logs_its_progress_in_the_run(tmp_path, landing, monkeypatch):
    (landing / "2026-01-01.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 5)))
    monkeypatch.setattr(writer, "PROGRESS_SECONDS", 0.0)
    # Chunks of 2 rows: the line about the second chunk is logged from the thread that protects it.
    monkeypatch.setattr(ingest, "load_file", functools.partial(writer.load_file, chunk_rows=2))
    result, logged = _run(tmp_path)
    assert result.success
    assert [line for line in logged if line.startswith("orders file 1/1 2026-01-01.csv: ")] == [
        f"orders file 1/1 2026-01-01.csv: {line}" for line in (
            "read 4 rows; validating", "validated: 4 rows to load, 0 to quarantine, 0 of erased subjects",
            "2 of 4 rows protected", "4 rows in, 4 loaded, 0 quarantined, 0 suppressed")]


def test_a_step_waits_for_a_warehouse_held_by_another_process_and_then_loads(tmp_path, landing, warehouse_held_elsewhere):
    (landing / "2026-01-31.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=n % 9 + 1) for n in range(50)))
    warehouse = tmp_path / "warehouse.duckdb"
    connect_duckdb(warehouse).close()
    with warehouse_held_elsewhere(warehouse, seconds=3) as holder:
        result, logged = _run(tmp_path, busy_wait_seconds=1)
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert retries, "the step never found the warehouse busy: the test proves nothing"
    assert all(f"in use by another process (PID {holder.pid})" in str(e.event_specific_data.error) for e in retries)
    said = f"the warehouse {warehouse} is in use by another process (PID {holder.pid}); this step tries again in 1 s"
    assert len([line for line in logged if line.startswith(said)]) == len(retries)  # where `klantkluis run` shows it
    assert result.success
    with connect_duckdb(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from raw.orders").fetchone()[0] == 50


def test_rows_already_past_retention_are_swept_by_the_ingest_step_itself(tmp_path, landing):
    """A reload of old files brings back orders past their 7 years; they are anonymised before the
    step ends, even in a run whose retention sweep never comes (another source failed)."""
    old = "".join(GOOD.format(n=n, d=1).replace("2026-01-01", "2018-06-01") for n in range(1, 4))
    (landing / "2026-01-01.csv").write_text(HEADER + old + "".join(GOOD.format(n=n, d=2) for n in range(4, 9)))
    result, logged = _run(tmp_path)
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["past_retention_swept"].value == 3
    assert "orders: 3 rows past retention deleted or anonymised" in logged
    with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
        kept = con.execute("select count(*) filter (where subject_id like 'anon-%'), "
                           "count(*) filter (where subject_id not like 'anon-%') from raw.orders").fetchone()
    assert kept == (3, 5)


def test_an_order_exported_again_with_an_earlier_date_goes_whole_with_its_first_export(tmp_path, landing):
    """A record exported again is judged on its latest row (the orchestration passes each source's
    record id to the sweep): its earlier export's row, with a date inside the 7 years, goes with it."""
    (landing / "2026-01-01.csv").write_text(HEADER + GOOD.format(n=1, d=1).replace("2026-01-01", "2019-06-01"))
    (landing / "2026-01-02.csv").write_text(HEADER + GOOD.format(n=1, d=2).replace("2026-01-02", "2018-06-01"))
    result, logged = _run(tmp_path)
    assert result.success and "orders: 2 rows past retention deleted or anonymised" in logged
    with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from raw.orders where subject_id not like 'anon-%'").fetchone()[0] == 0


def test_a_reloaded_files_quarantined_rows_past_their_30_days_are_swept_by_the_ingest_step(tmp_path, landing):
    (landing / "2026-01-01.csv").write_text(HEADER + GOOD.format(n=1, d=1) + GOOD.format(n=2, d=1).replace("10.00", "ten"))
    assert _run(tmp_path)[0].success  # 2026-02-01: one row quarantined
    quarantined = "select count(*) from raw._quarantine"
    with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute(quarantined).fetchone()[0] == 1
    result, logged = _run(tmp_path, "2026-03-15T00:00:00+00:00", tags={"klantkluis/reload": "all"})
    assert result.success and "orders: 1 rows past retention deleted or anonymised" in logged
    with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute(quarantined).fetchone()[0] == 0  # first quarantined on 2026-02-01: 30 days are over


def test_a_changed_column_mapping_loads_an_unchanged_file_again_so_a_mistake_in_it_shows_at_once(tmp_path, landing):
    (landing / "2026-01-01.csv").write_text(HEADER.replace("amount", "Revenue")
                                            + "".join(GOOD.format(n=n, d=1) for n in range(1, 5)))
    mapping = tmp_path / "sources.yml"
    mapping.write_text("orders:\n  columns: {amount: Revenue}\n")
    assert _run(tmp_path)[0].success
    result, logged = _run(tmp_path)
    assert result.success and "orders file 1/1 2026-01-01.csv: unchanged, skipped" in logged
    mapping.write_text("orders:\n  columns: {amount: Revenu}\n")  # a typo in the mapping, the file unchanged
    result, _ = _run(tmp_path)
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "amount (mapped from 'Revenu', which the header lacks)" in failure.step_failure_data.error.message


def test_a_landing_file_goes_30_days_after_its_content_was_first_loaded_and_a_corrected_one_counts_anew(tmp_path, landing):
    """Policy rule landing_files (Art. 5(1)(e)): the plain export serves only a reload once loaded."""
    first, corrected = landing / "2026-01-01.csv", landing / "2026-01-02.csv"
    first.write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 5)))
    corrected.write_text(HEADER + "".join(GOOD.format(n=n, d=2) for n in range(5, 9)))
    assert _run(tmp_path)[0].success  # 2026-02-01: both loaded
    corrected.write_text(HEADER + "".join(GOOD.format(n=n, d=2) for n in range(5, 10)))  # the same export, corrected
    assert _run(tmp_path, "2026-02-20T00:00:00+00:00")[0].success
    result, logged = _run(tmp_path, "2026-03-05T00:00:00+00:00")  # 32 days after the first load
    assert result.success and not first.exists() and corrected.exists()
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["landing_files_removed"].value == 1
    assert "orders: 1 landing file(s) past their retention removed (2026-01-01.csv; policy rule landing_files)" in logged
    audit = [json.loads(line) for line in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()]
    assert [e["details"]["file"] for e in audit if e["event"] == "landing_file_removed"] == ["2026-01-01.csv"]
    result, logged = _run(tmp_path, "2026-03-23T00:00:00+00:00")  # 31 days after the corrected content's load
    assert result.success and not corrected.exists()
    result, logged = _run(tmp_path, "2026-03-24T00:00:00+00:00")  # nothing left to read: not a mistake
    assert result.success and any("no landing files; the 2 loaded earlier were removed" in line for line in logged)
    with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from raw.orders").fetchone()[0] == 9  # the raw layer keeps the rows


def test_a_requests_consent_events_are_no_landing_file_missing_once_the_exports_were_removed(tmp_path, landing):
    """Privacy review: after an objection, its events' batch (req-<id>.csv, never in the landing
    zone) counted as a landing file removed by hand once the exports aged out, so the source failed
    "no landing files" and every later run skipped the retention sweep."""
    (landing / "2026-01-01.csv").write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 5)))
    assert _run(tmp_path)[0].success
    with connect_duckdb(tmp_path / "warehouse.duckdb") as con:  # what a request's consent events leave in the ledger
        con.execute("insert into raw._batches values ('b-req', 'orders', 'req-0123456789abcdef0123.csv', 'x', 1, 1, 0, 0, "
                    "timestamptz '2026-02-10 00:00:00+00', null, null, null, null)")
    result, logged = _run(tmp_path, "2026-03-05T00:00:00+00:00")  # the export goes after its 30 days
    assert result.success and not (landing / "2026-01-01.csv").exists()
    result, logged = _run(tmp_path, "2026-03-06T00:00:00+00:00")
    assert result.success and any("no landing files; the 1 loaded earlier were removed" in line for line in logged)


def test_a_landing_file_failing_the_gate_stays_and_one_deleted_by_hand_is_still_missed(tmp_path, landing):
    good, bad = landing / "2026-01-01.csv", landing / "2026-01-02.csv"
    good.write_text(HEADER + "".join(GOOD.format(n=n, d=1) for n in range(1, 5)))
    bad.write_text(HEADER + "".join(GOOD.format(n=n, d=2).replace("10.00", "ten") for n in range(5, 9)))
    _run(tmp_path)  # 2026-02-01: the second file fails the gate (all rows quarantined)
    result, _ = _run(tmp_path, "2026-03-05T00:00:00+00:00")
    assert not good.exists() and bad.exists()  # its data never reached the raw layer: kept until fixed
    bad.unlink()  # removed by hand, not after its retention: an empty folder is a mistake again
    result, _ = _run(tmp_path, "2026-03-06T00:00:00+00:00")
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "orders" in failure.step_failure_data.error.message and not result.success


def test_a_landing_file_written_again_after_it_was_read_is_not_removed(tmp_path):
    import duckdb

    from orchestration.ingest import landing_retention
    from orchestration.ingest.schema import ensure_raw_tables
    from privacy.audit import AuditLog

    path = tmp_path / "2026-01-01.csv"
    path.write_text(HEADER + GOOD.format(n=1, d=1))
    loaded_with = writer.content_key(path)
    path.write_text(HEADER + GOOD.format(n=1, d=1) + GOOD.format(n=2, d=1))  # the source wrote it again
    with duckdb.connect() as con:
        ensure_raw_tables(con, [])
        removed, refused = landing_retention.remove(con, [(path, loaded_with, datetime(2026, 2, 1, tzinfo=timezone.utc))],
                                                    "orders", writer.content_key,
                                                    AuditLog(tmp_path / "audit.jsonl", key_dir=tmp_path / "keys"),
                                                    datetime(2026, 3, 5, tzinfo=timezone.utc))
        assert (removed, refused) == ([], []) and path.exists()
        assert con.execute("select count(*) from raw._landing_removed").fetchone()[0] == 0


def test_a_landing_file_removal_stopped_while_its_bytes_are_zeroed_is_recorded(tmp_path, monkeypatch):
    """Ops review: a process killed while zeroing an expired export (seconds for a large file) left
    it gone without a record: later runs named it removed by hand, and once the source's other files
    expired, failed its ingest step every run for want of an export."""
    import duckdb

    from orchestration.ingest import landing_retention
    from orchestration.ingest.schema import ensure_raw_tables
    from privacy.audit import AuditLog
    from privacy.rights import purge

    path = tmp_path / "2026-01-01.csv"
    path.write_text(HEADER + GOOD.format(n=1, d=1))

    def killed(fd):
        raise SystemExit(137)  # what the zeroing gets of a stop signal, as near as a test can

    monkeypatch.setattr(purge, "_zero", killed)
    audit = AuditLog(tmp_path / "audit.jsonl", key_dir=tmp_path / "keys")
    with duckdb.connect() as con:
        ensure_raw_tables(con, [])
        with pytest.raises(SystemExit):
            landing_retention.remove(con, [(path, writer.content_key(path), datetime(2026, 2, 1, tzinfo=timezone.utc))],
                                     "orders", writer.content_key, audit, datetime(2026, 3, 5, tzinfo=timezone.utc))
        assert not path.exists()
        assert con.execute("select source, file from raw._landing_removed").fetchall() == [("orders", "2026-01-01.csv")]
    assert [e["details"]["file"] for e in audit.entries() if e["event"] == "landing_file_removed"] == ["2026-01-01.csv"]


def _older_leads_warehouse(home, monkeypatch):
    """A warehouse of leads as an older version left it: company in plain text."""
    monkeypatch.setenv("KLANTKLUIS_HOME", str(home))
    monkeypatch.delenv("KLANTKLUIS_KEY_DIR", raising=False)
    folder = home / "landing" / "leads"
    folder.mkdir(parents=True)
    (folder / "2026-01-01.csv").write_text(
        "lead_id,first_name,last_name,email,phone,company,stage,lead_source,created_at,last_contact_at\n"
        + "".join(f"L{n:07d},Anna,Visser,a{n}@example.nl,0612345678,{'Visser Advies' if n % 2 else ''},prospect,"
                  "fair,2026-01-01,\n" for n in range(1, 5)))
    assert _run(home, source="leads")[0].success
    warehouse = home / "warehouse.duckdb"
    with connect_duckdb(warehouse) as con:
        con.execute("alter table raw.leads alter column company set data type varchar using "
                    "case when company is not null then 'Schildersbedrijf Klaassen ' || _source_line end")
        con.execute("checkpoint")
    assert b"Schildersbedrijf Klaassen" in warehouse.read_bytes()
    return warehouse


def test_a_column_an_older_version_stored_in_plain_text_is_encrypted_and_compacted_away(tmp_path, monkeypatch):
    from orchestration.settings import Paths
    from privacy.crypto import decrypt_values
    from privacy.keystore import KeyStore
    from privacy.masterkey import master_key_from_env

    warehouse = _older_leads_warehouse(tmp_path, monkeypatch)
    due = tmp_path / "state" / compaction.DUE_NOW

    def interrupted(*args):
        raise RuntimeError("the process died while compacting")

    compact = compaction.compact
    monkeypatch.setattr(compaction, "compact", interrupted)
    result, said = _run(tmp_path, source="leads")  # the file is unchanged: only the migration works
    assert not result.success and any("company (plain text in older versions) now encrypted" in line for line in said)
    assert due.exists() and b"Schildersbedrijf Klaassen" in warehouse.read_bytes()  # still in free blocks
    monkeypatch.setattr(compaction, "compact", compact)
    result, said = _run(tmp_path, source="leads")  # the next step compacts what is due
    assert result.success and any("The warehouse was compacted" in line for line in said) and not due.exists()
    with connect_duckdb(warehouse, read_only=True) as con:
        assert con.execute("select type from pragma_table_info('raw.leads') where name = 'company'").fetchone() == ("BLOB",)
        rows = con.execute("select subject_id, company, _source_line from raw.leads order by _source_line").fetchall()
    paths = Paths.from_home(tmp_path)
    with KeyStore(paths.keystore, master_key_from_env(paths.environment())) as keystore:
        plain = decrypt_values([r[1] for r in rows], [r[0] for r in rows], "leads", "company", keystore, purpose="test")
    assert plain == [f"Schildersbedrijf Klaassen {line}" if line % 2 == 0 else None for _, _, line in rows]
    assert b"Schildersbedrijf Klaassen" not in warehouse.read_bytes()
    assert not any("plain text" in line for line in _run(tmp_path, source="leads")[1])  # once only


def test_values_an_older_version_encrypted_without_padding_are_padded_and_compacted_away(tmp_path, monkeypatch):
    """Upgrade: values written before padding came in kept their exact ciphertext lengths in an upgraded
    warehouse (names and addresses single out most subjects by length, Art. 32(1), 4(5)); the ingest step
    encrypts them again padded, once, and the file is compacted."""
    from orchestration.settings import Paths
    from privacy import crypto
    from privacy.audit import AuditLog
    from privacy.keystore import KeyStore
    from privacy.masterkey import master_key_from_env

    monkeypatch.setenv("KLANTKLUIS_HOME", str(tmp_path))
    monkeypatch.delenv("KLANTKLUIS_KEY_DIR", raising=False)
    (tmp_path / "landing" / "leads").mkdir(parents=True)
    (tmp_path / "landing" / "leads" / "2026-01-01.csv").write_text(
        "lead_id,first_name,last_name,email,phone,company,stage,lead_source,created_at,last_contact_at\n"
        + "".join(f"L{n:07d},{'Anna' * n},Visser,a{n}@example.nl,0612345678,,prospect,fair,2026-01-01,\n"
                  for n in range(1, 5)))
    with monkeypatch.context() as older:  # as a version before padding encrypted them
        older.setattr(crypto, "PADDED", b"")
        older.setattr(crypto, "_PADDING", (b"",) * crypto.BLOCK)
        assert _run(tmp_path, source="leads")[0].success
    warehouse = tmp_path / "warehouse.duckdb"
    lengths = "select octet_length(first_name) % 16, first_name from raw.leads order by _source_line"
    with connect_duckdb(warehouse, read_only=True) as con:
        before = con.execute(lengths).fetchall()
    assert {r for r, _ in before} != {crypto.PADDED_REMAINDER}
    result, said = _run(tmp_path, source="leads")  # the file is unchanged: only the migration works
    assert result.success and any("leads.first_name" in line and "now encrypted again, padded" in line for line in said)
    with connect_duckdb(warehouse, read_only=True) as con:
        after = con.execute(lengths).fetchall()
        rows = con.execute("select subject_id, first_name from raw.leads order by _source_line").fetchall()
    assert {r for r, _ in after} == {crypto.PADDED_REMAINDER}
    paths = Paths.from_home(tmp_path)
    with KeyStore(paths.keystore, master_key_from_env(paths.environment())) as keystore:
        plain = crypto.decrypt_values([r[1] for r in rows], [r[0] for r in rows], "leads", "first_name", keystore,
                                      purpose="test")
    assert plain == ["Anna" * n for n in range(1, 5)]
    assert not any(old in warehouse.read_bytes() for _, old in before)  # compacted away
    assert [e["details"]["rows"] for e in AuditLog(paths.audit_log).entries() if e["event"] == "ciphertexts_padded"] == [4]
    assert not any("padded" in line for line in _run(tmp_path, source="leads")[1])  # once only


def test_a_request_answered_before_the_next_ingest_meets_the_column_encrypted(tmp_path, monkeypatch):
    import zipfile

    from orchestration.requests.inbox import write_request
    from orchestration.requests.service import RequestService
    from orchestration.settings import Paths

    warehouse = _older_leads_warehouse(tmp_path, monkeypatch)
    paths = Paths.from_home(tmp_path)
    request_id, _ = write_request(paths.inbox, {"type": "access", "lead_id": "L0000001", "verification": "in_person"})
    with RequestService(paths) as service:
        outcome = service.process(request_id)
    assert outcome.status == "completed" and not (paths.state / compaction.DUE_NOW).exists()
    with zipfile.ZipFile(outcome.result_path) as z:  # the lead's own company, decrypted for them
        assert any(b"Schildersbedrijf Klaassen 2" in z.read(name) for name in z.namelist())
    with connect_duckdb(warehouse, read_only=True) as con:
        assert con.execute("select type from pragma_table_info('raw.leads') where name = 'company'").fetchone() == ("BLOB",)
    assert b"Schildersbedrijf Klaassen" not in warehouse.read_bytes()


def test_an_excel_export_with_dutch_settings_loads_as_its_dialect_in_sources_yml_says(tmp_path, landing):
    """Excel with Dutch settings writes ';' between fields, cp1252, decimal commas and dates day
    first. Refused before ("export with commas"); now read as the source's `csv` settings say."""
    header = HEADER.replace(",", ";").encode()
    rows = ["O0000001;C0000001;23-1-2026;1.234,50;-2,5;boeken;web;ideal",
            "O0000002;C0000002;05-01-2026;10;0,00;café;store;ideal",  # é in cp1252: one byte
            "O0000003;C0000003;2026-01-06;7,5;1,25;books;web;ideal",  # ISO stays readable
            "O0000004;C0000004;6-1-26;7,5;1,25;books;web;ideal"]  # a two-digit year: quarantined
    body = b"\n".join(r.encode("cp1252") for r in rows) + b"\nO0000005;C0000005;07-01-2026;1,00;0;b\x81;web;ideal\n"
    (landing / "2026-01-31.csv").write_bytes(header + body)
    (tmp_path / "sources.yml").write_text(
        "orders:\n  csv: {delimiter: ';', encoding: windows-1252, decimal: ',', dates: day-first}\n")
    result, logged = _run(tmp_path)
    assert result.success
    with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
        loaded = con.execute("select order_id, order_date, amount, margin, product_category from raw.orders "
                             "order by order_id").fetchall()
        quarantined = con.execute("select line, rule from raw._quarantine order by line").fetchall()
    assert [tuple(map(str, row)) for row in loaded] == [
        ("O0000001", "2026-01-23", "1234.50", "-2.5", "boeken"), ("O0000002", "2026-01-05", "10", "0.00", "café"),
        ("O0000003", "2026-01-06", "7.5", "1.25", "books")]
    assert quarantined == [(5, "expect_column_values_to_be_parseable_datetimes:order_date"),
                           (6, "line holds a byte that is no character in cp1252 (the file's encoding in sources.yml)")]
    assert "orders file 1/1 2026-01-31.csv: 5 rows in, 3 loaded, 2 quarantined, 0 suppressed" in logged
    # Read otherwise, the same file is other data: loaded again at once (and here, rows quarantined).
    (tmp_path / "sources.yml").write_text("orders:\n  csv: {delimiter: ';', encoding: cp1252}\n")
    result, logged = _run(tmp_path)
    assert not result.success  # the gate names the fix: the csv settings of sources.yml
    assert "orders file 1/1 2026-01-31.csv: 5 rows in, 0 loaded, 5 quarantined, 0 suppressed" in logged
    assert any("or correct the column mapping or csv settings in sources.yml" in (line or "") for line in logged)


def test_a_run_without_a_day_tag_that_takes_two_landing_days_says_so_and_what_it_costs(tmp_path, landing):
    """A launch from the UI has no `klantkluis/through_day` tag: it takes every pending day, and the
    snapshots keep only the last one's state. Its log and metadata say so, and how to avoid it."""
    for day in (1, 2):
        (landing / f"2026-01-0{day}.csv").write_text(HEADER + GOOD.format(n=day, d=day))
    result, logged = _run(tmp_path)
    assert result.success
    [said] = [line for line in logged if "landing days at once" in line]
    assert said.startswith("orders: this run takes the files of 2 landing days at once (2026-01-01 to 2026-01-02)")
    assert "`klantkluis run`" in said and "klantkluis/through_day" in said
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["landing_days_new"].value == 2 and "landing_days_warning" in metadata
    (landing / "2026-01-03.csv").write_text(HEADER + GOOD.format(n=3, d=3))
    result, logged = _run(tmp_path, "2026-02-02T00:00:00+00:00")  # one new day: nothing to say
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["landing_days_new"].value == 1 and "landing_days_warning" not in metadata
    assert not [line for line in logged if "landing days at once" in line]


def test_a_run_of_a_landing_day_stops_while_an_earlier_day_is_not_loaded(tmp_path, landing):
    """The schedule queues one run per day; the queue runs the next day's even when the earlier day's
    run failed. That run loads nothing, instead of taking both days (and losing one from the snapshots)."""
    for day in (1, 2):
        (landing / f"2026-01-0{day}.csv").write_text(HEADER + GOOD.format(n=day, d=day))
    result, _ = _run(tmp_path, tags={"klantkluis/through_day": "2026-01-02"})
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert "Landing day(s) 2026-01-01, before this run's day 2026-01-02, are not loaded" in str(
        failure.event_specific_data.error)
    with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from raw._batches").fetchone()[0] == 0
    for day in ("2026-01-01", "2026-01-02"):  # in order, as `klantkluis run` and the schedule do
        result, logged = _run(tmp_path, tags={"klantkluis/through_day": day})
        assert result.success and not [line for line in logged if "landing days at once" in line]


CONSENT_HEADER = "event_id,customer_id,purpose,action,occurred_at,notice_version,channel\n"
CONSENT = "E{n:07d},C{n:07d},marketing_email,granted,2026-01-0{d}T10:00:00,v1,web\n"


def test_a_run_of_the_oldest_pending_day_decides_that_day_once_for_all_its_ingest_steps(tmp_path, landing):
    """The 02:00 schedule, finding the warehouse held by another process, cannot read which days are
    pending: it requests one run tagged `klantkluis/through_day: oldest` (it took every pending day
    at once, losing the earlier days' history from the snapshots). Its first ingest step decides the
    day and records it on the run; a later step judging anew, after the first loaded that day's
    files, would take the next day."""
    from orchestration.definitions import SOURCES

    consents = tmp_path / "landing" / "consent_events"
    consents.mkdir()
    for day in (1, 2):
        (consents / f"2026-01-0{day}.csv").write_text(CONSENT_HEADER + CONSENT.format(n=day, d=day))
    (landing / "2026-01-02.csv").write_text(HEADER + GOOD.format(n=2, d=2))
    (landing / "orders_export.csv").write_text(HEADER + GOOD.format(n=9, d=1))  # no day: every run takes it
    assets = [build_ingest_asset(t) for t in SOURCES if t.name in ("consent_events", "orders")]

    def oldest_run(as_of):
        with DagsterInstance.ephemeral() as instance:
            result = materialize(assets, resources={"klantkluis": KlantkluisResource(home=str(tmp_path))},
                                 instance=instance, raise_on_error=False,
                                 tags={"klantkluis/as_of": as_of, "klantkluis/through_day": "oldest"})
            assert result.success
            order = [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START]
            assert order == ["raw__consent_events", "raw__orders"]  # orders' step judging anew would take day 2
            return instance.get_run_by_id(result.run_id).tags.get("klantkluis/oldest_day")

    def loaded():
        with connect_duckdb(tmp_path / "warehouse.duckdb", read_only=True) as con:
            return con.execute("select source, file from raw._batches order by all").fetchall()

    assert oldest_run("2026-02-01T00:00:00+00:00") == "2026-01-01"
    assert loaded() == [("consent_events", "2026-01-01.csv"), ("orders", "orders_export.csv")]
    assert oldest_run("2026-02-01T01:00:00+00:00") == "2026-01-02"  # the next run: the next day
    assert loaded() == [("consent_events", "2026-01-01.csv"), ("consent_events", "2026-01-02.csv"),
                        ("orders", "2026-01-02.csv"), ("orders", "orders_export.csv")]
    assert oldest_run("2026-02-01T02:00:00+00:00") == "none"  # nothing pending: every file, as without a day


def test_a_run_from_the_ui_of_a_source_whose_retention_rule_the_policy_lacks_loads_nothing(tmp_path, landing,
                                                                                          monkeypatch):
    """klantkluis run refuses it before it starts; a run launched from the UI loaded the rows first."""
    import dataclasses

    from orchestration.definitions import SOURCES
    from privacy.policy import load_policy
    from privacy.retention import table_rule

    policy = load_policy()
    rule = table_rule(next(t for t in SOURCES if t.name == "orders"), policy).name
    monkeypatch.setattr(ingest, "load_policy", lambda: dataclasses.replace(
        policy, retention={k: v for k, v in policy.retention.items() if k != rule}))
    (landing / "2026-01-05.csv").write_text(HEADER + GOOD.format(n=1, d=5), encoding="utf-8")
    result, logged = _run(tmp_path)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert f"no retention rule '{rule}'" in failure.event_specific_data.error.message
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing loaded, not even a table made


def test_a_file_named_with_a_bar_keeps_its_row_in_the_files_table():
    """Diff review: a landing file named with '|' broke the Markdown table of files_this_run."""
    from orchestration.ingest.writer import BatchResult

    table = ingest._files_table([BatchResult("orders", "a|b.csv", 2, 2), BatchResult("orders", "c.csv", skipped=True)])
    assert table.value.splitlines()[2:] == ["| a\\|b.csv | loaded | 2 | 2 | 0 | 0 |",
                                            "| c.csv | unchanged, skipped | | | | |"]
