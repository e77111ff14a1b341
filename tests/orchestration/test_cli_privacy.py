"""The privacy officer's commands: reading and verifying the audit log."""

from datetime import datetime, timezone

import pytest

from orchestration.cli import main
from orchestration.settings import Paths
from privacy.audit import AuditLog

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def paths(tmp_path, monkeypatch) -> Paths:
    """An installation in tmp_path with its environment set, as `main` exports it (undone after the test)."""
    paths = Paths.from_home(tmp_path)
    for name, value in paths.environment().items():
        monkeypatch.setenv(name, value)
    return paths


def test_the_audit_command_shows_who_did_what_when_filtered(tmp_path, paths, monkeypatch, capsys):
    log = AuditLog(paths.audit_log, key_dir=paths.key_dir)
    log.append("decrypt", now=NOW, table="crm_customers", count=3)
    log.append("erasure", actor="request:r-42", now=NOW, subjects=1)
    assert main(["--home", str(tmp_path), "audit", "--id", "r-42"]) == 0
    said = capsys.readouterr().out
    assert "#2 2026-12-05T09:30:00.000000Z erasure (request:r-42)  written 20" in said and "decrypt" not in said
    assert "1 of the entries in" in said
    assert main(["--home", str(tmp_path), "audit-verify"]) == 0
    assert "intact, 2 entries" in capsys.readouterr().out
    assert main(["--home", str(tmp_path), "audit", "--event", "erasure_request"]) == 0  # misspelt: names the events
    assert "No event erasure_request in this log; its events: decrypt, erasure." in capsys.readouterr().out
    assert main(["--home", str(tmp_path), "audit", "--event", "erasure", "--since", "2030-01-01"]) == 0
    assert "No event" not in capsys.readouterr().out  # the event is right; the time excluded it


def test_the_audit_command_finds_a_customers_entries_by_number_and_those_of_their_requests(tmp_path, paths,
                                                                                           monkeypatch, capsys):
    """Privacy review: the log holds no numbers, and a request's entries name only the request, so
    "whose data, when" took a lookup by hand and a second search."""
    from privacy.pseudonym import pseudonymiser_from_env
    from privacy.rights.ledger import Ledger

    sid = pseudonymiser_from_env(paths.environment()).subject_id("customer", "C0000001")
    other = pseudonymiser_from_env(paths.environment()).subject_id("customer", "C0000002")
    paths.state.mkdir(parents=True, exist_ok=True)
    with Ledger(paths.state / "requests.sqlite") as ledger:
        for request_id, subject in (("req-aaaaaaaaaaaaaaaaaaaa", sid), ("req-bbbbbbbbbbbbbbbbbbbb", other)):
            ledger._db.execute("insert into requests (request_id, type, status, subjects, received_at, due_at) "
                               "values (?, 'access', 'completed', ?, '2026-12-01', '2027-01-01')",
                               (request_id, f'["{subject}"]'))
        ledger._db.commit()
    log = AuditLog(paths.audit_log, key_dir=paths.key_dir)
    log.append("key_created", now=NOW, subject_id=sid)
    log.append("access_export", actor="request:req-aaaaaaaaaaaaaaaaaaaa", now=NOW, rows=4)
    log.append("access_export", actor="request:req-bbbbbbbbbbbbbbbbbbbb", now=NOW, rows=2)
    assert main(["--home", str(tmp_path), "audit", "--customer", "C0000001"]) == 0
    said = capsys.readouterr().out
    assert "key_created" in said and "req-aaaa" in said and "req-bbbb" not in said and "2 of the entries" in said
    assert "C0000001" not in said
    fresh = Paths.from_home(tmp_path / "fresh", tmp_path / "fresh" / "keys")  # diff review: a read made a pseudonym key where none was
    for name, value in fresh.environment().items():
        monkeypatch.setenv(name, value)
    fresh.state.mkdir(parents=True)
    AuditLog(fresh.audit_log, key_dir=fresh.key_dir).append("key_created", now=NOW, subject_id=sid)
    assert main(["--home", str(fresh.home), "audit", "--customer", "C0000001"]) == 0
    assert "No pseudonym key in" in capsys.readouterr().out and not (fresh.key_dir / "pseudonym.key").exists()


def test_the_audit_command_finds_a_customers_requests_after_their_ledger_rows_expired(tmp_path, paths, capsys):
    """DPO review: the ledger rows go after 5 years (rule request_records), the audit log's entries
    after 7 (rule audit_log). In between, `audit --customer` found a request's decryptions (they name
    the subject) but no longer its receipt, its identity check, its export or its erasure, which name
    only the request: an erasure could not be proven for the person asking about it (Art. 5(2))."""
    from privacy.pseudonym import pseudonymiser_from_env

    sid = pseudonymiser_from_env(paths.environment()).subject_id("customer", "C0000001")
    other = pseudonymiser_from_env(paths.environment()).subject_id("customer", "C0000002")
    paths.state.mkdir(parents=True, exist_ok=True)  # no ledger row left about either
    log = AuditLog(paths.audit_log, key_dir=paths.key_dir)
    log.append("request_received", now=NOW, request_id="req-aaaaaaaaaaaaaaaaaaaa", type="erasure", verified_by="id_document")
    log.append("key_shredded", actor="request:req-aaaaaaaaaaaaaaaaaaaa", now=NOW, subject_id=sid, existed=True)
    log.append("erasure", actor="request:req-aaaaaaaaaaaaaaaaaaaa", now=NOW, subjects=1, keys_shredded=1)
    log.append("request_completed", now=NOW, request_id="req-aaaaaaaaaaaaaaaaaaaa", type="erasure", status="completed")
    log.append("key_shredded", actor="request:req-bbbbbbbbbbbbbbbbbbbb", now=NOW, subject_id=other, existed=True)
    log.append("erasure", actor="request:req-bbbbbbbbbbbbbbbbbbbb", now=NOW, subjects=1, keys_shredded=1)
    assert main(["--home", str(tmp_path), "audit", "--customer", "C0000001"]) == 0
    said = capsys.readouterr().out
    assert "4 of the entries" in said and "request_received" in said and "request_completed" in said
    assert "req-bbbb" not in said and "C0000001" not in said


def test_the_audit_command_refuses_a_key_folder_without_the_installations_key_rather_than_finding_nothing(
        tmp_path, paths, monkeypatch, capsys):
    """Review: KLANTKLUIS_KEY_DIR=/tmp/nokeys klantkluis audit --customer ... said this installation had
    recorded nothing about anyone, while with its keys it found the customer's entries."""
    from privacy.pseudonym import pseudonymiser_from_env

    sid = pseudonymiser_from_env(paths.environment()).subject_id("customer", "C0000100")  # binds the key
    AuditLog(paths.audit_log, key_dir=paths.key_dir).append("key_created", now=NOW, subject_id=sid)
    wrong = tmp_path.parent / f"{tmp_path.name}-nokeys"
    monkeypatch.setenv("KLANTKLUIS_KEY_DIR", str(wrong))
    assert main(["--home", str(tmp_path), "audit", "--customer", "C0000100"]) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and "was written with pseudonym key kek-" in out.err
    assert "KLANTKLUIS_KEY_DIR" in out.err and "recorded nothing" not in out.out
    assert "C0000100" not in out.out + out.err and "Traceback" not in out.out + out.err
    assert not wrong.exists()  # a read makes no key


def test_a_rotated_master_key_stays_this_installations_key(tmp_path, paths):
    from privacy.masterkey import master_key_from_env

    old = master_key_from_env(paths.environment())
    before = old.key_id
    with open(old.path, "rb") as held:  # what a disk or a file-system snapshot still shows of the old file
        assert held.read() != bytes(32)
        assert main(["--home", str(tmp_path), "rotate-master-key"]) == 0
        held.seek(0)
        # Zeroed, not only unlinked: a key-store backup from before the rotation stays unreadable.
        assert held.read() == bytes(32)
    after = master_key_from_env(paths.environment()).key_id  # refused if the binding had kept the old id
    assert after != before and after in (tmp_path / "state" / "keys.json").read_text()
    assert old.path.read_bytes() != bytes(32)


def test_audit_verify_catches_a_log_and_head_rewritten_without_the_key(tmp_path, paths, capsys):
    """Security review: a demo's audit chain and head were rewritten (every hash recomputed), and
    `klantkluis audit-verify` still said "intact"."""
    import json

    from privacy.audit import _digest

    log = AuditLog(paths.audit_log, key_dir=paths.key_dir)
    for n in range(3):
        log.append("erasure", actor=f"request:r-{n}", now=NOW, subjects=1)
    assert main(["--home", str(tmp_path), "audit-verify"]) == 0
    assert "intact, 3 entries, hash chain and MACs under" in capsys.readouterr().out
    entries, prev = [json.loads(line) for line in paths.audit_log.read_text().splitlines()][:-1], "0" * 64
    for e in entries:  # the last erasure removed, the rest rechained, and a head to match
        e.pop("mac", None)
        e["prev_hash"], e["hash"] = prev, None
        e["hash"] = prev = _digest(e)
    paths.audit_log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    log.head_path.write_text(json.dumps({"seq": 2, "hash": prev}))
    assert main(["--home", str(tmp_path), "audit-verify"]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def test_audit_verify_names_a_missing_audit_key_and_its_fix(tmp_path, paths, monkeypatch, capsys):
    AuditLog(paths.audit_log, key_dir=paths.key_dir).append("decrypt", now=NOW, table="leads", count=1)
    wrong = tmp_path.parent / f"{tmp_path.name}-nokeys"
    monkeypatch.setenv("KLANTKLUIS_KEY_DIR", str(wrong))
    assert main(["--home", str(tmp_path), "audit-verify"]) == 2
    said = capsys.readouterr().err
    assert said.count("Error:") == 1 and "audit.key is missing" in said and "KLANTKLUIS_KEY_DIR" in said
    assert not wrong.exists()  # no key made for the keyed log


def test_rotate_audit_key(tmp_path, paths, capsys):
    log = AuditLog(paths.audit_log, key_dir=paths.key_dir)
    log.append("decrypt", now=NOW, table="leads", count=1)
    old = (paths.key_dir / "audit.key").read_bytes()
    assert main(["--home", str(tmp_path), "rotate-audit-key"]) == 0
    assert "Audit key rotated" in capsys.readouterr().out
    assert (paths.key_dir / "audit.key").read_bytes() != old
    assert [e["event"] for e in log.entries()] == ["decrypt", "audit_key_rotated"]
    assert main(["--home", str(tmp_path), "audit-verify"]) == 0


def test_status_shows_the_installation_without_a_run_with_quarantined_rows_per_rule(tmp_path, paths, capsys):
    import duckdb

    from orchestration.ingest.schema import ensure_raw_tables

    paths.landing.mkdir(parents=True)
    assert main(["--home", str(tmp_path), "status"]) == 0
    assert f"No warehouse yet in {tmp_path}" in capsys.readouterr().out
    duckdb.connect(str(paths.warehouse)).close()  # a warehouse without any load yet
    assert main(["--home", str(tmp_path), "status"]) == 0
    said = capsys.readouterr().out
    assert "No run recorded in this installation yet." in said and "klantkluis status" in said
    (paths.inbox).mkdir()
    (paths.inbox / "req-1.json").write_text('{"received_at": "2026-01-05T10:00:00+01:00"}')  # months ago
    with duckdb.connect(str(paths.warehouse)) as con:
        ensure_raw_tables(con, [])
        con.execute("insert into raw._batches values ('b1', 'orders', 'o.csv', 'x', 5, 2, 3, 0, now(), null, null, null, null)")
        con.execute("insert into raw._quarantine select 'orders', 'o.csv', range, rule, null, null, 'b1', now() "
                    "from range(3), (values ('expect_column_values_to_match_regex:amount'), ('malformed')) r(rule) "
                    "where range < 2 or rule = 'malformed'")
    assert main(["--home", str(tmp_path), "status"]) == 0
    said = capsys.readouterr().out
    assert "klantkluis status" in said and "orders           in          5  loaded          2  quarantined       3" in said
    # the month of Art. 12(3) runs from arrival: the operator sees it is overdue, not only that it waits
    assert f"Requests: 1 document(s) in {paths.inbox} not registered yet, the first answer due 2026-02-05, 1 overdue" \
        in said
    from orchestration.requests.service import RequestService

    with RequestService(paths) as service:  # registered, not answered yet (crash review: still called unregistered)
        service.intake()
    assert main(["--home", str(tmp_path), "status"]) == 0
    assert "not registered yet" not in capsys.readouterr().out
    assert "  orders                   3  malformed\n  orders                   2  expect_column_values_to_match_regex" \
           ":amount" in said  # most rows first


def test_status_tells_a_stopped_command_line_run_from_one_still_going(tmp_path, paths, capsys):
    """Crash review: after a kill -9, status said the run was still going, with nothing running."""
    import os

    import duckdb
    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

    from orchestration.pipeline import COMMAND_LINE_TAG, RUN_LOCK

    paths.prepare_dagster_home()
    duckdb.connect(str(paths.warehouse)).close()
    paths.state.mkdir(parents=True, exist_ok=True)
    with DagsterInstance.get() as instance:
        instance.add_run(DagsterRun(job_name="full_refresh", run_id="a" * 36, status=DagsterRunStatus.STARTED,
                                    tags={COMMAND_LINE_TAG: "run"}))
    assert main(["--home", str(tmp_path), "status"]) == 0
    assert "stopped before it finished (its process ended): `klantkluis run` again" in capsys.readouterr().out
    (paths.state / RUN_LOCK).write_text("999999999")  # a process that ended (no such id)
    assert main(["--home", str(tmp_path), "status"]) == 0
    assert "stopped before it finished" in capsys.readouterr().out
    (paths.state / RUN_LOCK).write_text(str(os.getpid()))  # as a running `klantkluis run` records itself
    assert main(["--home", str(tmp_path), "status"]) == 0
    assert "is still going" in capsys.readouterr().out
    (paths.state / RUN_LOCK).write_text("999999999")
    with DagsterInstance.get() as instance:  # the UI re-executed a command-line run: its tags came along
        instance.add_run(DagsterRun(job_name="full_refresh", run_id="c" * 36, status=DagsterRunStatus.STARTED,
                                    tags={COMMAND_LINE_TAG: "run", "dagster/parent_run_id": "a" * 36}))
    assert main(["--home", str(tmp_path), "status"]) == 0
    assert "is still going" in capsys.readouterr().out
    with DagsterInstance.get() as instance:  # a failed run, and none ever succeeded
        instance.add_run(DagsterRun(job_name="full_refresh", run_id="b" * 36, status=DagsterRunStatus.FAILURE))
    assert main(["--home", str(tmp_path), "status"]) == 0
    assert "failure: no run has succeeded yet, so the marts below may be missing or partial" in capsys.readouterr().out


@pytest.mark.parametrize("failing", ["audit entry", "binding"])
def test_a_rotation_stopped_after_the_rewrap_is_finished_by_moving_the_new_key_never_by_deleting_it(
        tmp_path, paths, monkeypatch, capsys, failing):
    """Reviews: a rotation that stopped after its rewrap (its audit entry failed, or writing the
    installation's key binding did) left the store wrapped by master.key.new while the installation
    named the old key. Running the rotation again deleted master.key.new, the only key to the data
    keys; and once it was moved into place, the binding called it the wrong key and advised
    restoring the old one from the backup over it."""
    from privacy import keybinding
    from privacy.audit import AuditLog as Log
    from privacy.keystore import KeyStore
    from privacy.masterkey import master_key_from_env

    with KeyStore(paths.keystore, master_key_from_env(paths.environment())) as store:
        store.ensure(["ab" * 32])
    real_append, real_confirm = Log.append, keybinding.confirm

    def full_disk(self, event, **kwargs):
        if event == "master_key_rotated":
            raise OSError(28, "No space left on device")
        return real_append(self, event, **kwargs)

    def binding_lost(env, kind, key_id, *, replace=False):
        if replace:
            raise OSError(28, "No space left on device")
        return real_confirm(env, kind, key_id, replace=replace)

    if failing == "audit entry":
        monkeypatch.setattr(Log, "append", full_disk)
    else:
        monkeypatch.setattr(keybinding, "confirm", binding_lost)
    assert main(["--home", str(tmp_path), "rotate-master-key"]) == 2
    assert "the disk is full" in capsys.readouterr().err  # the first attempt stops, saying why
    monkeypatch.undo()
    for name, value in paths.environment().items():
        monkeypatch.setenv(name, value)
    staged, key = paths.key_dir / "master.key.new", paths.key_dir / "master.key"
    assert main(["--home", str(tmp_path), "rotate-master-key"]) == 2  # refused: it names the move
    said = capsys.readouterr().err
    assert staged.exists() and f"move {staged} to {key}" in said and "restore" not in said
    staged.rename(key)  # what the message says
    with KeyStore(paths.keystore, master_key_from_env(paths.environment())) as store:
        assert store.has("ab" * 32)
    assert main(["--home", str(tmp_path), "rotate-master-key"]) == 0  # and rotations go on as before
    with KeyStore(paths.keystore, master_key_from_env(paths.environment())) as store:
        assert store.has("ab" * 32)


def test_a_wrong_master_key_from_the_environment_is_named_not_a_traceback(tmp_path):
    """Review: the check for an interrupted rotation failed on a key without a file."""
    import base64
    import os

    from privacy.exceptions import WrongMasterKey
    from privacy.keystore import KeyStore
    from privacy.masterkey import master_key_from_env

    paths = Paths.from_home(tmp_path)
    with KeyStore(paths.keystore, master_key_from_env(paths.environment())):
        pass
    wrong = {**paths.environment(), "KLANTKLUIS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    with pytest.raises(WrongMasterKey, match="is wrapped by master key"):
        KeyStore(paths.keystore, master_key_from_env(wrong))


def test_status_after_a_simulated_run_judges_the_landing_days_by_the_installations_time(tmp_path, paths, capsys):
    """Soak test: after `run --as-of ... --simulate` the run's summary was clean, but `status` measured
    the landing files against today's date and called every file of a simulated day a typo, each day,
    with no way to clear it. The installation's time is the later of now and its last load (a plain
    run after a simulated later one is refused for the same reason)."""
    import duckdb

    from orchestration.ingest.schema import ensure_raw_tables

    (paths.landing / "orders").mkdir(parents=True)
    (paths.landing / "orders" / "2062-01-01.csv").write_text("order_id,customer_id,order_date,amount\n")
    with duckdb.connect(str(paths.warehouse)) as con:
        ensure_raw_tables(con, [])
        con.execute("insert into raw._batches values ('b1', 'orders', '2062-01-01.csv', 'x', 0, 0, 0, 0, "
                    "timestamptz '2062-01-02 02:00:00+00', null, null, null, null)")
    assert main(["--home", str(tmp_path), "status"]) == 0
    assert "after a day after today" not in capsys.readouterr().out
    (paths.landing / "orders" / "2062-01-05.csv").write_text("order_id,customer_id,order_date,amount\n")
    assert main(["--home", str(tmp_path), "status"]) == 0  # after the installation's time: still a note
    assert "named after a day after today (orders/2062-01-05.csv)" in capsys.readouterr().out


def test_a_killed_command_line_run_stops_holding_the_run_queue(tmp_path, paths):
    """UI review: after `klantkluis run` was killed (kill -9, an out-of-memory kill, a reboot), Dagster
    kept its run STARTED, and with one run at a time the queue held every run launched from the UI,
    the 02:00 schedule's and each data subject request's, QUEUED for ever. The request sensor (every
    30 s) and the next `klantkluis run` now record such a run as failed; one still going is left."""
    import os

    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, build_sensor_context

    from orchestration.assets.requests import request_sensor
    from orchestration.pipeline import COMMAND_LINE_TAG, RUN_LOCK, end_stopped_runs
    from orchestration.resources import KlantkluisResource

    paths.prepare_dagster_home()
    paths.state.mkdir(parents=True, exist_ok=True)
    with DagsterInstance.get() as instance:
        def status(run_id):
            return instance.get_run_by_id(run_id).status

        instance.add_run(DagsterRun(job_name="full_refresh", run_id="a" * 36, status=DagsterRunStatus.STARTED,
                                    tags={COMMAND_LINE_TAG: "run"}))
        instance.add_run(DagsterRun(job_name="full_refresh", run_id="c" * 36, status=DagsterRunStatus.STARTED,
                                    tags={COMMAND_LINE_TAG: "run", "dagster/parent_run_id": "b" * 36}))  # the UI's
        (paths.state / RUN_LOCK).write_text(str(os.getpid()))  # as a running `klantkluis run` records itself
        assert end_stopped_runs(instance, paths) == [] and status("a" * 36) == DagsterRunStatus.STARTED
        (paths.state / RUN_LOCK).write_text("999999999")  # its process ended
        request_sensor(build_sensor_context(instance=instance),
                       klantkluis=KlantkluisResource(home=str(tmp_path)))
        assert status("a" * 36) == DagsterRunStatus.FAILURE
        assert status("c" * 36) == DagsterRunStatus.STARTED  # a re-execution is the daemon's, not a CLI process
        [failure] = [e for e in instance.all_logs("a" * 36) if e.dagster_event and e.dagster_event.is_run_failure]
        assert "process of this run ended before the run did" in failure.dagster_event.message
        instance.add_run(DagsterRun(job_name="full_refresh", run_id="d" * 36, status=DagsterRunStatus.STARTED,
                                    tags={COMMAND_LINE_TAG: "run"}))
        (paths.state / RUN_LOCK).write_text(str(os.getpid()))  # `klantkluis run` itself, holding the lock
        assert end_stopped_runs(instance, paths, holding_lock=True) == ["d" * 36]


def test_a_breach_is_recorded_with_its_deadline_an_audit_entry_and_a_draft_notification(tiny_landing, tmp_path,
                                                                                        paths, capsys):
    """DPO review: a breach had to be documented (Art. 33(5)) and notified within 72 hours (Art. 33(1))
    by hand, without knowing what the file held; `breach record` does both from the file itself."""
    import json
    import shutil

    import duckdb

    with duckdb.connect(str(paths.warehouse)) as con:  # a warehouse's shape, with fake values
        con.execute("create schema raw; create table raw.crm_customers (subject_id varchar, email blob, city varchar)")
        con.execute(f"insert into raw.crm_customers values ('{'a' * 64}', '\\x01'::blob, 'Delft')")
    leaked = tmp_path / "share" / "export.csv"  # a landing file left on a share, out of its source's folder
    leaked.parent.mkdir()
    shutil.copy(sorted((tiny_landing / "landing" / "crm_customers").glob("*.csv"))[0], leaked)

    assert main(["--home", str(tmp_path), "breach", "assess", str(leaked)]) == 2
    assert "name its source with --source" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "breach", "record", "--file", str(paths.warehouse),
                 "--discovered", "2999-01-01T00:00"]) == 2
    assert "later than now" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "breach", "record", "--file", str(leaked), "--source", "crm_customers",
                 "--discovered", "2026-12-01T08:00:00+01:00", "--description", "export left on a share"]) == 0
    said = capsys.readouterr().out
    assert "Notify Autoriteit Persoonsgegevens by 2026-12-04 08:00 CET (the 72 hours have passed" in said
    assert "Verdict: Plain personal data exposed: crm_customers.customer_id, crm_customers.first_name" in said
    (entry,) = map(json.loads, (paths.state / "breaches.jsonl").read_text().splitlines())
    assert entry["notify_by"] == "2026-12-04T07:00:00.000000Z" and entry["description"] == "export left on a share"
    assert entry["tables"][0]["rows"] == 300 and entry["subjects"] == 300
    drafts = sorted((paths.register / "breaches").glob(f"{entry['id']}.*.md"))
    assert [p.name.split(".")[1] for p in drafts] == ["en", "nl"]
    assert "Reasons for the delay (Art. 33(1))" in drafts[0].read_text()
    assert "Geen voor dit bestand: een aanleverbestand" in drafts[1].read_text()
    (audited,) = AuditLog(paths.audit_log, key_dir=paths.key_dir).matching(events=["breach_recorded"])
    assert audited["details"] == {"breach_id": entry["id"], "file": "export.csv", "subjects": 300, "records": 300,
                                  "plain_personal_columns": len(entry["plain_personal"])}
    assert main(["--home", str(tmp_path), "audit-verify"]) == 0


def test_breach_assess_names_a_damaged_duckdb_file_in_one_line(tmp_path, paths, capsys):
    """Review: a DuckDB file that cannot be opened (a copy cut short, a damaged one, one of a newer
    DuckDB) ended `breach assess` in DuckDB's own traceback."""
    paths.state.mkdir(parents=True)
    cut = tmp_path / "copy.duckdb"
    cut.write_bytes(b"\0" * 8 + b"DUCK" + b"\0" * 100)  # a DuckDB header and nothing after it
    assert main(["--home", str(tmp_path), "breach", "assess", str(cut)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {cut}: DuckDB cannot read it (IOException)") and len(err.splitlines()) == 1


def test_breach_assess_of_a_landing_file_names_columns_not_ours_and_takes_one_lacking_some(tmp_path, paths):
    """Review: a leaked export's column that is none of the source's (free notes, say) was left out
    of the assessment, the verdict and the draft notification without a word, and an export lacking
    one of the source's columns could not be assessed at all (the ingest's "Fix the export")."""
    from orchestration.cli_breach import assessment
    from orchestration.ingest.reader import LandingFileError
    from privacy.breach import PLAIN, UNCLASSIFIED

    leaked = tmp_path / "export.csv"
    leaked.write_text("customer_id,email,notes\nC0000001,fake.one@example.invalid,fake note\n"
                      "C0000002,fake.two@example.invalid,\n")
    found = assessment(paths, leaked, "crm_customers")
    (table,) = found.tables
    assert {c.name: c.protection for c in table.columns} == {"customer_id": PLAIN, "email": PLAIN,
                                                            "notes": UNCLASSIFIED}
    assert (table.rows, found.subjects, found.unclassified) == (2, 2, ["crm_customers.notes"])
    leaked.write_text("C0000001,fake.one@example.invalid,fake note\n")  # no header row: its fields are data
    with pytest.raises(LandingFileError, match="none of the columns of crm_customers is in its first line") as said:
        assessment(paths, leaked, "crm_customers")
    assert "example.invalid" not in str(said.value)


def test_breach_assess_of_key_material_or_a_request_answer_says_what_it_is(tmp_path, paths, capsys):
    """A leaked key file or access export got 'name its source with --source', which no source fits."""
    paths.state.mkdir(parents=True)
    for folder, file, says in ((paths.key_dir, "master.key", "is key material, which no assessment reads"),
                               (paths.outbox, "req-1.zip", "is an answer to a data subject request")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file).write_bytes(b"\1" * 32)
        assert main(["--home", str(tmp_path), "breach", "assess", str(folder / file)]) == 2
        err = capsys.readouterr().err
        assert says in err and "--source" not in err and len(err.splitlines()) == 1
