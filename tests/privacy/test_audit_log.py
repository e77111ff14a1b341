"""The hash-chained audit log detects every edit: change, deletion, insertion, reordering, truncation."""

import json
import os
import threading
from datetime import datetime, timedelta, timezone

import pytest

from privacy.audit import AuditLog, _digest
from privacy.exceptions import AuditTampered, KeyFileError


@pytest.fixture
def log(audit, now):
    for i in range(5):
        audit.append("decrypt", now=now + timedelta(minutes=i), table="crm_customers", count=i)
    return audit


def _lines(log):
    return log.path.read_text().splitlines(keepends=True)


def _write(log, lines):
    log.path.write_text("".join(lines))


def test_entries_are_chained(log):
    entries = list(log.entries())
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(entries, entries[1:]))
    assert entries[0]["ts"] == "2025-06-30T12:00:00.000000Z"
    assert log.verify().ok and log.verify().entries == 5
    assert oct(os.stat(log.path).st_mode & 0o777) == oct(0o600)


def test_detects_changed_entry(log):
    lines = _lines(log)
    lines[2] = lines[2].replace('"count":2', '"count":7')
    _write(log, lines)
    result = log.verify()
    assert not result.ok and "changed" in result.problem and result.entries == 2


def test_detects_deleted_middle_entry(log):
    lines = _lines(log)
    del lines[2]
    _write(log, lines)
    assert not log.verify().ok


def test_detects_deleted_first_entry(log):
    _write(log, _lines(log)[1:])
    assert not log.verify().ok


def test_detects_deleted_tail(log):
    _write(log, _lines(log)[:3])
    result = log.verify()
    assert not result.ok and "removed from the end" in result.problem
    with pytest.raises(AuditTampered):
        log.append("late", count=1)


def test_detects_whole_log_deleted(log):
    log.path.unlink()
    assert not log.verify().ok


def test_detects_reordering(log):
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _write(log, lines)
    assert not log.verify().ok


def test_detects_insertion_even_with_recomputed_hash(log):
    lines = _lines(log)
    forged = json.loads(lines[1])
    forged["details"]["count"] = 99
    forged["hash"] = _digest(forged)
    lines.insert(2, json.dumps(forged) + "\n")
    _write(log, lines)
    assert not log.verify().ok


def test_detects_missing_head(log):
    log.head_path.unlink()
    assert log.verify().problem == "head file missing"


def test_interrupted_append_is_tolerated_and_repaired(log):
    head = log.head_path.read_bytes()
    log.append("decrypt", count=6)
    log.head_path.write_bytes(head)  # crash between the entry and the head update
    assert log.verify().ok
    log.append("decrypt", count=7)
    assert log.verify().ok and log.verify().entries == 7


def test_empty_log_verifies(tmp_path):
    assert AuditLog(tmp_path / "none.jsonl", key_dir=tmp_path / "keys").verify().ok


def test_naive_time_refused(audit):
    with pytest.raises(ValueError, match="timezone"):
        audit.append("x", now=datetime(2025, 1, 1))


def test_concurrent_appends_keep_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"

    def work():
        log = AuditLog(path, key_dir=tmp_path / "keys")
        for i in range(25):
            log.append("load", now=datetime.now(timezone.utc), count=i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = AuditLog(path, key_dir=tmp_path / "keys").verify()
    assert result.ok and result.entries == 100


def test_an_entry_says_when_it_was_written_and_by_which_account(log, monkeypatch):
    import pwd

    monkeypatch.setenv("USER", "someone-else")  # the account comes from the process's user id
    monkeypatch.setenv("LOGNAME", "someone-else")
    log.append("decrypt", now=datetime(2025, 7, 1, tzinfo=timezone.utc), table="leads", count=1)
    first, last = next(log.entries()), list(log.entries())[-1]
    assert first["ts"] == "2025-06-30T12:00:00.000000Z"  # the time the operation is about
    assert first["recorded_at"] > "2026" and last["by"] == pwd.getpwuid(os.geteuid()).pw_name


def test_an_older_entry_without_writer_fields_still_verifies(tmp_path, now):
    old = {"seq": 1, "ts": "2025-06-30T12:00:00.000000Z", "event": "decrypt", "actor": "system",
           "details": {"count": 1}, "prev_hash": "0" * 64}
    old["hash"] = _digest(old)
    log = AuditLog(tmp_path / "audit.jsonl", key_dir=tmp_path / "keys")
    log.path.write_text(json.dumps(old) + "\n")
    log.head_path.write_text(json.dumps({"seq": 1, "hash": old["hash"]}))
    log.append("erasure", now=now, subjects=1)
    assert log.verify().ok and log.verify().entries == 3  # with the entry that switched the log to keying
    assert [e["event"] for e in log.entries()] == ["decrypt", "audit_keyed", "erasure"]


def test_matching_answers_who_did_what_when(audit, now):
    audit.append("decrypt", now=now, table="crm_customers", count=1)
    audit.append("erasure", actor="request:r-42", now=now + timedelta(days=1), subjects=1)
    audit.append("key_shredded", now=now + timedelta(days=1), subject_id="ab12")
    audit.append("decrypt", now=now + timedelta(days=2), table="leads", count=2)
    seqs = lambda **kw: [e["seq"] for e in audit.matching(**kw)]  # noqa: E731
    assert seqs(events=["decrypt"]) == [1, 4]
    assert seqs(since="2025-07-01", until="2025-07-01") == [2, 3]
    assert seqs(mentioning="r-42") == [2] and seqs(mentioning="ab12") == [3]
    assert seqs(events=["decrypt", "erasure"], since="2025-07-01") == [2, 4]
    assert seqs(since="2025-07-01T14:00:00+02:00") == [2, 3, 4]  # 12:00 UTC, the time of entry 2
    recent = datetime.now(timezone.utc) - timedelta(days=3)
    audit.append("erasure", now=recent, subjects=1)
    assert seqs(since="7d") == [5] and seqs(until="7d") == [1, 2, 3, 4]  # days back from now
    with pytest.raises(ValueError):
        list(audit.matching(since="yesterday at noon"))
    for wrong in ("05-12-2026", "garbage", "2026-5"):  # short bounds are prefixes: only a year, month or day
        with pytest.raises(ValueError, match="date prefix"):
            list(audit.matching(since=wrong))


# Retention of the log itself (policy rule audit_log): expire cuts the oldest entries and records the cut.

def _aged(audit, now, days: list[int]):
    for i, d in enumerate(days):
        audit.append("decrypt", now=now + timedelta(days=d), table="crm_customers", count=i)
    return audit


def test_expire_removes_the_oldest_run_and_the_rest_still_verifies(audit, now):
    _aged(audit, now, [0, 1, 2, 10, 11])
    removed = audit.expire(now + timedelta(days=5), rule="audit_log", now=now + timedelta(days=20))
    entries = list(audit.entries())
    assert removed == 3 and [e["seq"] for e in entries] == [4, 5, 6]
    cut = entries[-1]
    assert cut["event"] == "audit_entries_expired"
    assert cut["details"]["removed"] == 3 and cut["details"]["through_seq"] == 3 and cut["details"]["rule"] == "audit_log"
    assert cut["details"]["through_hash"] == entries[0]["prev_hash"]
    assert audit.verify().ok and audit.verify().entries == 3
    audit.append("erasure", now=now + timedelta(days=21), subjects=1)  # the chain goes on after the cut
    assert audit.verify().ok and list(audit.entries())[-1]["seq"] == 7
    assert oct(os.stat(audit.path).st_mode & 0o777) == oct(0o600)


def test_expire_keeps_an_old_entry_after_a_newer_one(audit, now):
    # The log stays one chain: only a run from the start goes, even if a later entry is old too
    # (an operation about an earlier day, such as a run with --as-of in the past).
    _aged(audit, now, [0, 10, 1, 11])
    assert audit.expire(now + timedelta(days=5), rule="audit_log", now=now + timedelta(days=20)) == 1
    assert [e["ts"][:10] for e in audit.entries()][:3] == ["2025-07-10", "2025-07-01", "2025-07-11"]
    assert audit.verify().ok


def test_expire_with_nothing_old_changes_nothing(audit, now):
    _aged(audit, now, [10, 11])
    before = audit.path.read_bytes()
    assert audit.expire(now + timedelta(days=5), rule="audit_log", now=now + timedelta(days=20)) == 0
    assert audit.path.read_bytes() == before


def test_expire_twice_and_a_log_cut_to_its_record_alone(audit, now):
    _aged(audit, now, [0, 1])
    assert audit.expire(now + timedelta(days=5), rule="audit_log", now=now + timedelta(days=6)) == 2
    assert audit.expire(now + timedelta(days=30), rule="audit_log", now=now + timedelta(days=31)) == 1
    entries = list(audit.entries())
    assert [e["seq"] for e in entries] == [4] and entries[0]["details"]["through_seq"] == 3
    assert audit.verify().ok


def test_deleting_more_than_the_recorded_cut_is_detected(audit, now):
    _aged(audit, now, [0, 1, 10, 11])
    audit.expire(now + timedelta(days=5), rule="audit_log", now=now + timedelta(days=20))
    _write(audit, _lines(audit)[1:])  # one more entry removed by hand, after the cut
    result = audit.verify()
    assert not result.ok and "no expiry entry records a cut there" in result.problem


def test_a_tampered_log_is_not_cut(audit, now):
    _aged(audit, now, [0, 1, 10])
    lines = _lines(audit)
    _write(audit, [lines[0].replace('"count":0', '"count":5'), *lines[1:]])  # an old entry changed
    before = audit.path.read_bytes()
    with pytest.raises(AuditTampered, match="no entries expired"):
        audit.expire(now + timedelta(days=5), rule="audit_log", now=now + timedelta(days=20))
    assert audit.path.read_bytes() == before


def test_a_forged_cut_record_does_not_verify(audit, now):
    _aged(audit, now, [0, 1, 2])
    lines = _lines(audit)
    forged = json.loads(lines[-1])
    forged.update(event="audit_entries_expired", details={"through_seq": 1, "through_hash": json.loads(lines[0])["hash"]})
    forged["hash"] = _digest(forged)
    _write(audit, lines[1:-1] + [json.dumps(forged) + "\n"])  # entry 1 deleted, entry 3 rewritten as its record
    assert not audit.verify().ok


def test_a_writer_waiting_during_expire_appends_to_the_new_file(audit, now, monkeypatch):
    import fcntl

    import privacy.audit as module

    _aged(audit, now, [0, 1, 10])
    opened, real_flock, real_replace, writer = threading.Event(), fcntl.flock, os.replace, []

    def flock(f, op):
        if threading.current_thread() is not threading.main_thread():
            opened.set()  # the writer has the old file open and now waits for the lock expire holds
        real_flock(f, op)

    def replace(src, dst):  # expire, holding the lock, is about to swap the file: a writer queues up first
        if dst != audit.path or writer:
            return real_replace(src, dst)
        writer.append(threading.Thread(target=audit.append, args=("decrypt",), kwargs={"now": now, "count": 9}))
        writer[0].start()
        assert opened.wait(5)
        real_replace(src, dst)

    monkeypatch.setattr(fcntl, "flock", flock)  # the module itself: privacy.paths.locked_file takes the lock
    monkeypatch.setattr(module.os, "replace", replace)
    assert audit.expire(now + timedelta(days=5), rule="audit_log", now=now + timedelta(days=20)) == 2
    writer[0].join()
    assert [e["details"].get("count") for e in audit.entries()] == [2, None, 9]  # kept, the cut, the writer's
    assert audit.verify().ok


def test_an_expiry_record_cannot_be_appended_by_hand(audit, now):
    _aged(audit, now, [0, 1])
    with pytest.raises(ValueError, match="expire only"):
        audit.append("audit_entries_expired", now=now, through_seq=1, through_hash="0" * 64)


def test_a_damaged_entry_is_reported_not_raised(audit, now):
    _aged(audit, now, [0, 1])
    lines = _lines(audit)
    _write(audit, [lines[0].replace('"seq":1', '"seq":"1"'), lines[1]])
    result = audit.verify()
    assert not result.ok and "not an audit entry" in result.problem


def test_verify_waits_for_a_writer_instead_of_reading_half_a_write(audit, now):
    import fcntl

    _aged(audit, now, [0, 1])
    results = []
    with open(audit.path, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as append and expire hold it while they write
        reader = threading.Thread(target=lambda: results.append(audit.verify()))
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive() and not results  # waiting for the writer
        fcntl.flock(held, fcntl.LOCK_UN)
    reader.join(timeout=5)
    assert results and results[0].ok


def test_a_disk_that_fills_up_halfway_through_an_entry_leaves_no_half_entry(log, now, monkeypatch):
    """Ops review: a full disk left half a line at the end of the log; once space was freed every
    append refused the log as tampered, so every run and request failed until it was mended by hand."""
    import errno

    real_write, real_fdopen = os.write, os.fdopen

    def full(fd, data):  # the disk holds 10 more bytes
        real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    class Full:  # the same through a buffered file
        def __init__(self, f):
            self.f = f

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            self.f.__enter__()
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

        def write(self, data):
            full(self.f.fileno(), data)

    monkeypatch.setattr(os, "write", full)
    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: Full(real_fdopen(*args, **kwargs)))
    with pytest.raises(OSError):
        log.append("decrypt", now=now, table="orders", count=9)
    monkeypatch.undo()
    log.append("erasure", now=now, subjects=1)  # the disk has room again
    assert log.verify().ok
    assert [e["event"] for e in log.entries()][-2:] == ["decrypt", "erasure"] and len(list(log.entries())) == 6


# The keyed chain (Art. 32(1)(b)): an HMAC per entry and on the head under audit.key in the key folder.

def _rechained(log, change=lambda entries: None):
    """What someone who can write the log and its head but not read the key folder can do: change
    entries, recompute every hash and write a matching head (security review)."""
    entries = list(log.entries())
    change(entries)
    prev = "0" * 64
    for e in entries:
        e.pop("mac", None)
        e["prev_hash"], e["hash"] = prev, None
        e["hash"] = prev = _digest(e)
    log.path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    log.head_path.write_text(json.dumps({"seq": entries[-1]["seq"], "hash": prev}))
    return entries


def _unkeyed_log(path, n, now):
    """A log as written before keying: hashes only, and a head without a MAC."""
    prev, lines = "0" * 64, []
    for i in range(1, n + 1):
        entry = {"seq": i, "ts": (now + timedelta(days=i)).isoformat().replace("+00:00", "Z"), "event": "decrypt",
                 "actor": "system", "details": {"count": i}, "prev_hash": prev}
        entry["hash"] = prev = _digest(entry)
        lines.append(json.dumps(entry) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    path.with_name(path.name + ".head").write_text(json.dumps({"seq": n, "hash": prev}))


def test_a_chain_and_head_rewritten_without_the_key_do_not_verify(log):
    """Security review: a demo's chain and head were rewritten, and `audit-verify` said "intact"."""
    _rechained(log, lambda entries: entries[2]["details"].update(count=99))
    result = log.verify()
    assert not result.ok and "MAC" in result.problem
    with pytest.raises(AuditTampered):
        log.append("decrypt", count=6)


def test_a_rewritten_log_that_keeps_a_keyed_head_does_not_verify(log):
    head = json.loads(log.head_path.read_text())
    _rechained(log, lambda entries: entries.pop())  # the last entry gone, the rest rechained
    log.head_path.write_text(json.dumps({**head, "seq": 4, "hash": json.loads(_lines(log)[-1])["hash"]}))
    assert not log.verify().ok


def test_a_log_and_head_deleted_together_do_not_verify(log):
    log.path.unlink()
    log.head_path.unlink()
    result = log.verify()
    assert not result.ok and "audit.key exists" in result.problem
    with pytest.raises(AuditTampered, match="move .*audit.key out of the key folder"):
        log.append("decrypt", count=6)  # nor does a new log start beside the key


def test_a_keyed_log_verifies_and_its_key_lives_in_the_key_folder(log, key_dir):
    result = log.verify()
    assert result.ok and result.keyed and result.entries == 5
    assert all(len(e["mac"]) == 64 for e in log.entries())
    head = json.loads(log.head_path.read_text())
    assert set(head) == {"seq", "hash", "key", "mac"} and head["key"].startswith("audit-")
    key = key_dir / "audit.key"
    assert key.stat().st_size == 32 and oct(key.stat().st_mode & 0o777) == oct(0o600)
    assert not list(log.path.parent.glob("*.key*")) and not (key_dir / "audit.key.new").exists()
    assert key.read_bytes() not in log.path.read_bytes() + log.head_path.read_bytes()


def test_an_entry_stripped_of_its_mac_after_the_switch_does_not_verify(log):
    lines = _lines(log)
    stripped = json.loads(lines[3])
    del stripped["mac"]
    _write(log, [*lines[:3], json.dumps(stripped) + "\n", lines[4]])
    result = log.verify()
    assert not result.ok and "has no MAC" in result.problem


def test_a_log_from_before_keying_switches_at_its_first_append_and_verifies(tmp_path, now):
    keys = tmp_path / "keys"
    log = AuditLog(tmp_path / "state" / "audit.jsonl", key_dir=keys)
    _unkeyed_log(log.path, 3, now)
    result = log.verify()
    assert result.ok and not result.keyed and not keys.exists()  # verifying makes no key
    log.append("erasure", now=now, subjects=1)
    entries = list(log.entries())
    switch = entries[3]
    assert [e["event"] for e in entries] == ["decrypt"] * 3 + ["audit_keyed", "erasure"]
    assert switch["details"]["unkeyed_through_seq"] == 3 and switch["prev_hash"] == entries[2]["hash"]
    assert switch["details"]["unkeyed_through_hash"] == entries[2]["hash"] and "mac" in switch
    assert "mac" not in entries[0] and (keys / "audit.key").exists()
    result = log.verify()
    assert result.ok and result.keyed and result.entries == 5
    log.append("decrypt", now=now, count=9)  # no second switch
    assert [e["event"] for e in log.entries()].count("audit_keyed") == 1 and log.verify().ok


def test_tampering_before_the_switch_is_caught(tmp_path, now):
    log = AuditLog(tmp_path / "state" / "audit.jsonl", key_dir=tmp_path / "keys")
    _unkeyed_log(log.path, 3, now)
    log.append("erasure", now=now, subjects=1)
    keyed = _lines(log)
    changed = json.loads(keyed[1])
    changed["details"]["count"] = 42
    changed["hash"] = _digest(changed)
    _write(log, [keyed[0], json.dumps(changed) + "\n", *keyed[2:]])
    assert not log.verify().ok  # entry 3's prev_hash no longer matches
    prefix = [json.loads(line) for line in keyed[:3]]  # the whole prefix rechained as well
    prefix[1]["details"]["count"] = 42
    prev = "0" * 64
    for e in prefix:
        e["prev_hash"] = prev
        e["hash"] = prev = _digest(e)
    _write(log, [json.dumps(e) + "\n" for e in prefix] + keyed[3:])
    result = log.verify()
    assert not result.ok and "chain broken at seq 4" in result.problem  # frozen by the switch's MAC


def test_a_missing_audit_key_is_named_with_its_fix_and_never_made_anew(log, key_dir):
    (key_dir / "audit.key").rename(key_dir.parent / "elsewhere.key")
    for act in (log.verify, lambda: log.append("decrypt", count=6), lambda: log.expire(
            datetime(2030, 1, 1, tzinfo=timezone.utc), rule="audit_log")):
        with pytest.raises(KeyFileError, match=r"audit.key is missing, but the audit log .* is kept with key audit-"
                                               r".*KLANTKLUIS_KEY_DIR.*restored from the key backup"):
            act()
    assert not (key_dir / "audit.key").exists() and not (key_dir / "audit.key.new").exists()
    assert len(_lines(log)) == 5


def test_a_wrong_audit_key_is_named_with_its_fix(log, key_dir):
    (key_dir / "audit.key").write_bytes(os.urandom(32))
    for act in (log.verify, lambda: log.append("decrypt", count=6)):
        with pytest.raises(KeyFileError, match=r"is not the key the audit log .* is kept with .*KLANTKLUIS_KEY_DIR"):
            act()
    assert len(_lines(log)) == 5


def test_expire_on_a_keyed_log_and_across_the_switch_still_verifies(tmp_path, now):
    log = AuditLog(tmp_path / "state" / "audit.jsonl", key_dir=tmp_path / "keys")
    _unkeyed_log(log.path, 3, now)  # days 1 to 3
    assert log.expire(now + timedelta(days=3), rule="audit_log", now=now + timedelta(days=30)) == 2
    assert [e["event"] for e in log.entries()] == ["decrypt", "audit_keyed", "audit_entries_expired"]
    assert log.verify().ok and log.verify().keyed
    log.append("decrypt", now=now + timedelta(days=400), count=7)
    assert log.expire(now + timedelta(days=300), rule="audit_log", now=now + timedelta(days=400)) == 3
    assert all("mac" in e for e in log.entries()) and log.verify().ok  # the unkeyed part and the switch gone
    lines = _lines(log)
    _write(log, [lines[0].replace('"count":7', '"count":8'), *lines[1:]])
    assert not log.verify().ok


def test_an_interrupted_switch_verifies_and_is_finished_by_the_next_append(tmp_path, now, monkeypatch):
    import privacy.audit as module

    keys = tmp_path / "keys"
    log = AuditLog(tmp_path / "state" / "audit.jsonl", key_dir=keys)
    _unkeyed_log(log.path, 2, now)

    def crash(fd, line):
        raise SystemExit(137)  # killed after the key was staged and the head keyed, before the switch entry

    monkeypatch.setattr(module, "_append_whole", crash)
    with pytest.raises(SystemExit):
        log.append("decrypt", now=now, count=3)
    monkeypatch.undo()
    assert (keys / "audit.key.new").exists() and not (keys / "audit.key").exists()
    assert log.verify().ok
    log.append("decrypt", now=now, count=3)
    assert [e["event"] for e in log.entries()][2:] == ["audit_keyed", "decrypt"] and log.verify().ok
    assert (keys / "audit.key").exists() and not (keys / "audit.key.new").exists()


def test_backup_and_restore_keep_the_log_verifying(log, key_dir, tmp_path):
    """README, Backup and restore: the installation folder's state/ and the key folder, apart."""
    import shutil

    backup = tmp_path / "backup"
    shutil.copytree(log.path.parent, backup / "home" / "state")
    shutil.copytree(key_dir, backup / "keys")
    restored = tmp_path / "restored"
    shutil.copytree(backup / "home", restored / "home")
    restored_log = AuditLog(restored / "home" / "state" / "audit.jsonl", key_dir=restored / "keys")
    with pytest.raises(KeyFileError, match="audit.key is missing"):  # the key folder not yet back
        restored_log.verify()
    shutil.copytree(backup / "keys", restored / "keys")
    assert restored_log.verify().ok and restored_log.verify().keyed
    restored_log.append("decrypt", count=6)
    assert restored_log.verify().ok and restored_log.verify().entries == 6


def test_rotating_the_audit_key_recomputes_every_mac_and_records_it(log, key_dir, now):
    old = (key_dir / "audit.key").read_bytes()
    before = list(log.entries())
    new_id = log.rotate_key(now=now)
    entries = list(log.entries())
    assert (key_dir / "audit.key").read_bytes() != old and not (key_dir / "audit.key.new").exists()
    assert [e["hash"] for e in entries[:5]] == [e["hash"] for e in before]  # the chain is the same
    assert all(a["mac"] != b["mac"] for a, b in zip(entries, before))
    assert entries[-1]["event"] == "audit_key_rotated" and entries[-1]["details"]["to_key"] == new_id
    assert json.loads(log.head_path.read_text())["key"] == new_id
    assert log.verify().ok
    log.append("decrypt", count=7)
    assert log.verify().ok


def test_a_rotation_stopped_between_the_log_and_its_head_verifies_and_is_finished(log, key_dir, now, monkeypatch):
    real = AuditLog._write_head

    def crash(self, seq, digest, key):
        raise SystemExit(137)  # killed after the log was replaced under the new key, before its head

    monkeypatch.setattr(AuditLog, "_write_head", crash)
    with pytest.raises(SystemExit):
        log.rotate_key(now=now)
    monkeypatch.setattr(AuditLog, "_write_head", real)
    assert (key_dir / "audit.key.new").exists() and log.verify().ok  # the head one behind, under the old key
    log.append("decrypt", count=7)
    assert not (key_dir / "audit.key.new").exists() and log.verify().ok
    assert [e["event"] for e in log.entries()][-2:] == ["audit_key_rotated", "decrypt"]
