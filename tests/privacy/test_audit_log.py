"""The hash-chained audit log detects every edit: change, deletion, insertion, reordering, truncation."""

import json
import os
import threading
from datetime import datetime, timedelta, timezone

import pytest

from privacy.audit import AuditLog, _digest
from privacy.exceptions import AuditTampered


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
    assert AuditLog(tmp_path / "none.jsonl").verify().ok


def test_naive_time_refused(audit):
    with pytest.raises(ValueError, match="timezone"):
        audit.append("x", now=datetime(2025, 1, 1))


def test_concurrent_appends_keep_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"

    def work():
        log = AuditLog(path)
        for i in range(25):
            log.append("load", now=datetime.now(timezone.utc), count=i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = AuditLog(path).verify()
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
    log = AuditLog(tmp_path / "audit.jsonl")
    log.path.write_text(json.dumps(old) + "\n")
    log.head_path.write_text(json.dumps({"seq": 1, "hash": old["hash"]}))
    log.append("erasure", now=now, subjects=1)
    assert log.verify().ok and log.verify().entries == 2


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

    monkeypatch.setattr(module.fcntl, "flock", flock)
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
