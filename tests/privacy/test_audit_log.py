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
    with pytest.raises(ValueError):
        list(audit.matching(since="yesterday at noon"))
