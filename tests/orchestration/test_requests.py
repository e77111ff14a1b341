"""Request intake without a warehouse: CLI, inbox, ledger, sensor (fast; the flow is in test_requests_e2e)."""

import argparse
import json
import os
import shutil
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions, RunRequest, SkipReason, build_sensor_context

from orchestration.assets.requests import request_jobs, request_sensor
from orchestration.requests.cli import add_request_commands
from orchestration.requests.common import open_requests
from orchestration.requests.erasure import erased_before
from orchestration.requests.inbox import documents, write_request
from orchestration.requests.service import RequestService
from orchestration.resources import KlantkluisResource
from orchestration.settings import Paths
from privacy.audit import timestamp
from privacy.rights.ledger import NotOpen
from privacy.rights.readable import shown
from privacy.rights.requests import LOCAL_TIME, local_date, months_after

EMAIL = "secret.person@example.nl"


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.delenv("KLANTKLUIS_KEY_DIR", raising=False)
    monkeypatch.delenv("KLANTKLUIS_MASTER_KEY", raising=False)
    monkeypatch.delenv("KLANTKLUIS_PSEUDONYM_KEY", raising=False)
    return Paths.from_home(tmp_path / "home", tmp_path / "home" / "keys")


def _cli(paths, *argv) -> int:
    parser = argparse.ArgumentParser()
    add_request_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args, paths)


def test_cli_writes_a_valid_request_and_refuses_an_invalid_one(paths, capsys):
    assert _cli(paths, "request", "access", "--email", EMAIL, "--verified-by", "portal_login") == 0
    [path] = paths.inbox.glob("*.json")
    assert json.loads(path.read_text())["email"] == EMAIL and oct(path.stat().st_mode)[-3:] == "600"
    assert _cli(paths, "request", "withdraw", "--customer", "C0000001", "--purpose", "astrology",
                "--verified-by", "idin") == 2
    assert _cli(paths, "request", "rectify", "--customer", "C0000001", "--field", "subject_id", "--value", "x",
                "--verified-by", "idin") == 2
    assert _cli(paths, "request", "rectify", "--customer", "C0000001", "--field", "birth_date", "--value",
                "31-02-1980", "--verified-by", "idin") == 2  # a typing error is caught before it is refused
    said = capsys.readouterr().out
    assert EMAIL not in said and len(list(paths.inbox.glob("*.json"))) == 1
    assert "Not filed: the new birth_date breaks the rule(s) expect_column_values_to_be_parseable_datetimes" in said
    assert _cli(paths, "request", "rectify", "--email", EMAIL, "--field", "phone", "--value", "06-12345678",
                "--verified-by", "idin") == 0
    assert _cli(paths, "request", "access", "--customer", "C0000001;x", "--verified-by", "idin") == 2
    said = capsys.readouterr()
    assert "customer_id is not well-formed: give it as the landing files write it (1 to 64 letters" in said.out + said.err
    assert ".py" not in said.out + said.err  # a user is not sent into the source code


def test_personal_data_for_a_request_can_come_from_standard_input(paths, monkeypatch, capsys):
    """Security review: a value on the command line shows in the process list and the shell's history."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{EMAIL}\n06-87654321\n"))
    assert _cli(paths, "request", "rectify", "--email", "-", "--field", "phone", "--value", "-",
                "--verified-by", "idin") == 0
    [path] = paths.inbox.glob("*.json")
    document = json.loads(path.read_text())
    assert document["email"] == EMAIL and document["value"] == "06-87654321"
    assert EMAIL not in capsys.readouterr().out
    # at a terminal it is asked for, not shown
    monkeypatch.setattr("sys.stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})(""))
    asked = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "06-11112222")
    assert _cli(paths, "request", "rectify", "--customer", "C0000001", "--field", "phone", "--value", "-",
                "--verified-by", "idin") == 0
    assert asked == ["Corrected value: "]
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # review: it said "give exactly one subject identifier"
    assert _cli(paths, "request", "access", "--email", "-", "--verified-by", "idin") == 2
    assert capsys.readouterr().out == ("Not a valid request: nothing was read from standard input for --email -: give "
                                       "it there on a line of its own (the e-mail address first when --email and "
                                       "--value are both -)\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{EMAIL}\n"))
    assert _cli(paths, "request", "rectify", "--email", "-", "--field", "phone", "--value", "-",
                "--verified-by", "idin") == 2
    said = capsys.readouterr().out
    assert "nothing was read from standard input for --value -" in said and EMAIL not in said
    assert len(list(paths.inbox.glob("*.json"))) == 2  # nothing more filed


def test_a_letter_saved_in_the_inbox_is_tracked_as_a_document_to_answer_by_hand(paths, capsys):
    """Art. 12(3), 12(4): any file in the inbox is a request, not only JSON; a hidden one is being written."""
    paths.inbox.mkdir(parents=True)
    letter = paths.inbox / "letter.txt"
    letter.write_text("Geachte heer, ik wil weten welke gegevens u van mij heeft.")
    for name in (".upload.tmp", "~$brief.docx", "brief.docx.part", "Thumbs.db"):  # being written, or not a document
        (paths.inbox / name).write_text("half")
    assert documents(paths.inbox) == []  # a file other than JSON may still be copied in: a minute's grace
    os.utime(letter, (time.time() - 61, time.time() - 61))
    assert documents(paths.inbox) == [letter]
    resource = KlantkluisResource(home=str(paths.home))
    with DagsterInstance.ephemeral() as instance:  # the sensor takes it in too, and reminds of it
        skipped = request_sensor(build_sensor_context(instance=instance, resources={"klantkluis": resource}))
    assert "1 rejected document(s) to answer by hand" in skipped.skip_message
    assert _cli(paths, "requests", "--open") == 0
    said = capsys.readouterr().out
    assert "rejected" in said and "(reason: " in said and "Geachte" not in said
    [kept] = (paths.inbox / "rejected").iterdir()
    assert kept.suffix == ".txt" and (paths.inbox / "~$brief.docx").exists()
    now = datetime.now(timezone.utc)
    with RequestService(paths) as service:
        service.answered(kept.stem, now=now)
        service.intake(now + timedelta(days=31))
    assert not kept.exists()  # 30 days after the answer, as a JSON document


def test_a_rejected_document_is_reported_with_its_reason_by_process_and_list(paths, capsys):
    paths.inbox.mkdir(parents=True)
    (paths.inbox / "note.json").write_text(json.dumps({"type": "access", "verification": "idin"}))
    (paths.inbox / "note.json").chmod(0o644)  # as another account's tool may leave it
    assert _cli(paths, "process-requests") == 0
    said = capsys.readouterr().out
    assert "rejected, give exactly one subject identifier" in said and "answer the requester yourself" in said
    assert _cli(paths, "requests") == 0
    assert "(reason: give exactly one subject identifier" in capsys.readouterr().out
    assert _cli(paths, "process-requests") == 0  # reported once, when it arrives
    assert "rejected" not in capsys.readouterr().out
    [kept] = (paths.inbox / "rejected").glob("*.json")
    assert oct(kept.stat().st_mode & 0o777) == oct(0o600)  # the sender's 0644 is not kept
    now = datetime.now(timezone.utc)
    with RequestService(paths) as service:  # open until answered by hand: the document stays
        service.intake(now + timedelta(days=50))
        assert kept.exists() and service.ledger.get(kept.stem)["status"] == "rejected"
        assert [r["request_id"] for r in service.ledger.unanswered(now + timedelta(days=32))[1]] == [kept.stem]
        service.answered(kept.stem, now=now + timedelta(days=10))
        service.intake(now + timedelta(days=39))  # then kept 30 days (its identifier may be in plain text)
        assert kept.exists()
        service.intake(now + timedelta(days=41))
        assert not kept.exists()
        assert [e["details"]["request_id"] for e in service.audit.entries()
                if e["event"] in ("request_answered_by_hand", "rejected_request_removed")] == [kept.stem] * 2


def test_a_rejected_document_is_open_and_overdue_until_it_is_recorded_as_answered(paths, capsys):
    paths.inbox.mkdir(parents=True)
    (paths.inbox / "note.json").write_text("{not json")
    assert _cli(paths, "process-requests") == 0
    said = capsys.readouterr().out
    with RequestService(paths) as service:
        [(request_id, received)] = [(r["request_id"], r["received_at"]) for r in service.ledger.rows("rejected")]
    due = local_date(timestamp(months_after(datetime.fromisoformat(received), 1)))  # not now: midnight may pass
    assert f"by {due} (Art. 12(4))" in said and f"klantkluis request answered {request_id}" in said
    with RequestService(paths) as service:
        service.ledger._db.execute("update requests set due_at = '2026-01-01T00:00:00.000000Z'")  # a month later
    assert _cli(paths, "requests", "--open") == 0
    listed = capsys.readouterr().out
    assert f"{request_id}" in listed and "OVERDUE" in listed and "answer by hand" in listed
    assert "1 overdue, 1 rejected document(s) to answer by hand" in open_requests(paths)
    assert _cli(paths, "request", "answered", request_id) == 0
    assert "removed 30 days from now" in capsys.readouterr().out
    assert _cli(paths, "requests", "--open") == 0
    assert "0 request(s)." in capsys.readouterr().out and open_requests(paths) is None
    assert _cli(paths, "request", "answered", request_id) == 2  # once
    assert f"request {request_id} is answered already" in capsys.readouterr().out
    assert _cli(paths, "request", "answered", "req-00000000000000000000") == 2
    assert "no request req-00000000000000000000 in the ledger" in capsys.readouterr().out


def test_a_rejected_document_counts_from_its_arrival_and_goes_at_the_latest_a_month_after_its_due_date(paths):
    paths.inbox.mkdir(parents=True)
    stated = {"type": "access", "verification": "idin", "received_at": "2026-11-01T10:00:00+01:00"}  # no subject
    (paths.inbox / "by-post.json").write_text(json.dumps(stated))
    (paths.inbox / "old.json").write_text("{not json")
    twenty_days_ago = (datetime.now(timezone.utc) - timedelta(days=20)).timestamp()
    os.utime(paths.inbox / "old.json", (twenty_days_ago, twenty_days_ago))
    assert _cli(paths, "process-requests") == 0
    with RequestService(paths) as service:
        rows = {r["detail"]: r for r in service.ledger.rows("rejected")}
        [by_post] = [r for d, r in rows.items() if "subject identifier" in d]
        [old] = [r for d, r in rows.items() if "subject identifier" not in d]
        assert by_post["received_at"].startswith("2026-11-01T09:00") and by_post["due_at"].startswith("2026-12-01")
        assert datetime.fromisoformat(old["received_at"]).timestamp() == pytest.approx(twenty_days_ago, abs=1)
        with pytest.raises(NotOpen, match="cannot be extended"):  # Art. 12(4): the reason within the month
            service.extend(old["request_id"], "complexity")
        kept = paths.inbox / "rejected" / f"{old['request_id']}.json"
        due = datetime.fromisoformat(old["due_at"])
        service.remove_expired(due + timedelta(days=29))
        assert kept.exists()  # never recorded as answered: kept until 30 days after its answer was due
        service.remove_expired(due + timedelta(days=31))
        assert not kept.exists() and service.ledger.get(old["request_id"])["status"] == "rejected"  # still overdue
    (paths.inbox / "old.json").write_text("{not json")  # the same document again, after an answer: open again
    with RequestService(paths) as service:
        service.answered(by_post["request_id"])
        (paths.inbox / "by-post.json").write_text(json.dumps(stated))
        service.intake()
        assert service.ledger.get(by_post["request_id"])["status"] == "rejected"


def test_a_deadline_is_extended_once_by_two_months_within_the_first_with_a_notice(paths, capsys):
    received = "2026-11-30T10:00:00+01:00"
    request_id, _ = write_request(paths.inbox, {"type": "access", "email": EMAIL, "verification": "idin",
                                                "received_at": received})
    with RequestService(paths) as service:
        service.intake()
        assert service.ledger.get(request_id)["due_at"].startswith("2026-12-30T09:00")
        with pytest.raises(NotOpen, match="one of complexity, number_of_requests"):
            service.extend(request_id, "holiday", now=datetime(2026, 12, 5, tzinfo=timezone.utc))
        notice = service.extend(request_id, "complexity", now=datetime(2026, 12, 5, tzinfo=timezone.utc))
        row = service.ledger.get(request_id)
        assert row["due_at"].startswith("2027-02-28T09:00")  # two months later, a shorter month (Art. 12(3))
        with pytest.raises(NotOpen, match="extended already on 2026-12-05"):
            service.extend(request_id, "complexity", now=datetime(2026, 12, 6, tzinfo=timezone.utc))
        [entry] = [e for e in service.audit.entries() if e["event"] == "request_extended"]
    document = json.loads(notice.read_text())
    assert document["first_due_at"].startswith("2026-12-30") and document["reason"] == "complexity"
    assert "uiterlijk op 28 februari 2027" in document["explanation"]["nl"]  # a date as the Dutch write it
    assert "of 30 November 2026, because your request is complex. You will have our answer by 28 February 2027" in \
        document["explanation"]["en"]
    assert EMAIL not in notice.read_text() + json.dumps(entry) and oct(notice.stat().st_mode & 0o777) == oct(0o600)
    letter = paths.outbox / f"{request_id}.extension.letter.txt"  # to send, in the request's language (nl)
    said = " ".join(letter.read_text().split())
    assert f"Ons kenmerk: {request_id}" in said and "uiterlijk op 28 februari 2027" in said and "answer" not in said
    assert "Betreft: uw verzoek om inzage in uw gegevens (art. 15 AVG), ontvangen op 30 november 2026" in said
    assert EMAIL not in said and oct(letter.stat().st_mode & 0o777) == oct(0o600)
    assert _cli(paths, "requests") == 0
    assert "(extended 2026-12-05: complexity)" in capsys.readouterr().out
    other, _ = write_request(paths.inbox, {"type": "access", "customer_id": "C0000042", "verification": "idin",
                                           "received_at": "2026-11-01T10:00:00+01:00"})
    assert _cli(paths, "request", "extend", other, "--reason", "number_of_requests") == 2  # past its first month
    assert "must be made, and the requester told, within the first month" in capsys.readouterr().out
    assert not (paths.outbox / f"{other}.extension.json").exists()
    with RequestService(paths) as service:  # the notice is proof, kept and removed with the request's record
        service.process(request_id)
        with zipfile.ZipFile(paths.outbox / f"{request_id}.zip") as export:
            metadata = json.loads(export.read("metadata.json"))
        assert metadata["request"]["due_at"].startswith("2027-02-28T09:00")  # the extended period
        completed = datetime.fromisoformat(service.ledger.get(request_id)["completed_at"])
        cover = paths.outbox / f"{request_id}.letter.txt"  # the export's cover letter names the page to open
        assert "Open daarin overzicht.nl.html" in " ".join(cover.read_text().split())
        service.remove_expired(completed + timedelta(days=1827))
    assert not notice.exists() and not letter.exists() and not cover.exists()


def test_an_extension_of_a_request_an_older_version_registered_is_told_in_the_request_language(paths):
    """Review: a request registered before the ledger kept its language (detail without "language")
    and extended after the upgrade got its extension letter in Dutch, though it asked for English."""
    request_id, _ = write_request(paths.inbox, {"type": "access", "customer_id": "C0000042", "verification": "idin",
                                                "received_at": "2026-11-30T10:00:00+01:00", "language": "en"})
    with RequestService(paths) as service:
        service.intake()
        service.ledger._db.execute("update requests set detail = '{}' where request_id = ?", (request_id,))
        notice = service.extend(request_id, "complexity", now=datetime(2026, 12, 5, tzinfo=timezone.utc))
    said = " ".join((paths.outbox / f"{request_id}.extension.letter.txt").read_text().split())
    assert json.loads(notice.read_text())["language"] == "en"
    assert f"Our reference: {request_id}" in said and "Ons kenmerk" not in said


def test_rejected_documents_of_an_older_ledger_are_answered_once_their_month_is_over(paths):
    from privacy.rights.ledger import Ledger

    paths.state.mkdir(parents=True)
    recent = timestamp(datetime.now(timezone.utc) - timedelta(days=3))
    with Ledger(paths.state / "requests.sqlite") as ledger:  # as an older version recorded them: done at once
        for request_id, at in (("req-old", "2026-01-01T00:00:00.000000Z"), ("req-new", recent)):
            ledger._db.execute("insert into requests (request_id, type, status, received_at, due_at, completed_at) "
                               "values (?, 'invalid', 'rejected', ?, ?, ?)", (request_id, at, at, at))
    with Ledger(paths.state / "requests.sqlite") as ledger:
        old, new = ledger.get("req-old"), ledger.get("req-new")
    assert old["status"] == "answered" and "assumed when the ledger was upgraded" in old["detail"]  # its month is over
    assert new["status"] == "rejected" and new["completed_at"] is None  # still to be answered, within its month
    assert new["due_at"] == timestamp(months_after(datetime.fromisoformat(recent), 1))


def test_sensor_starts_one_run_per_request_without_the_identifier(paths):
    resource = KlantkluisResource(home=str(paths.home))
    with DagsterInstance.ephemeral() as instance:
        assert isinstance(request_sensor(build_sensor_context(instance=instance, resources={"klantkluis": resource})),
                          SkipReason)
        (paths.inbox / "note.json").parent.mkdir(parents=True, exist_ok=True)
        (paths.inbox / "note.json").write_text("{}")
        skipped = request_sensor(build_sensor_context(instance=instance, resources={"klantkluis": resource}))
        assert "1 rejected document(s) to answer by hand" in skipped.skip_message  # a reminder in the UI
        request_id, _ = write_request(paths.inbox, {"type": "objection", "email": EMAIL, "verification": "idin"})
        (paths.inbox / "garbage.json").write_text("{not json")
        [run] = request_sensor(build_sensor_context(instance=instance, resources={"klantkluis": resource}))
    assert isinstance(run, RunRequest) and run.run_key == request_id and run.job_name == "consent_request"
    assert EMAIL not in json.dumps(run.run_config) + json.dumps(run.tags)
    assert (paths.inbox / "rejected").is_dir() and not (paths.inbox / "garbage.json").exists()
    with RequestService(paths) as service:
        statuses = {r["request_id"]: r["status"] for r in service.ledger.rows()}
    assert statuses[request_id] == "received" and sorted(statuses.values()) == ["received", "rejected", "rejected"]
    assert EMAIL.encode() not in (paths.state / "requests.sqlite").read_bytes()
    assert EMAIL.encode() not in paths.audit_log.read_bytes()
    defs = Definitions(jobs=request_jobs, sensors=[request_sensor], resources={"klantkluis": resource})
    assert {j.name for j in request_jobs} == {"access_request", "erasure_request", "rectification_request",
                                               "consent_request"}
    assert defs.resolve_sensor_def("request_sensor") is not None


def test_access_without_any_data_confirms_that_nothing_is_processed(paths, capsys):
    write_request(paths.inbox, {"type": "access", "customer_id": "C0000042", "verification": "in_person"})
    assert _cli(paths, "process-requests") == 0
    assert _cli(paths, "requests") == 0
    out = capsys.readouterr().out
    assert "completed (no data found for this identifier)" in out and out.rstrip().endswith(".zip (no data found)\n1 request(s).")
    assert "Times in UTC" in out and "C0000042" not in out
    [export] = paths.outbox.glob("*.zip")
    with zipfile.ZipFile(export) as z:
        metadata = json.loads(z.read("metadata.json"))
    assert metadata["art15"]["confirmation"]["content"]["personal_data_processed"] is False
    assert not any(paths.inbox.glob("*.json"))
    with RequestService(paths) as service:  # an export is all of a subject's data: kept 30 days
        assert service.remove_expired(datetime.now(timezone.utc) + timedelta(days=29))["access_exports"] == 0
        assert export.exists()
        assert service.remove_expired(datetime.now(timezone.utc) + timedelta(days=31))["access_exports"] == 1
        assert not export.exists()
        assert [e["details"]["request_id"] for e in service.audit.entries()
                if e["event"] == "access_export_removed"] == [export.stem]
    assert _cli(paths, "requests") == 0
    assert ", rule access_exports)" in capsys.readouterr().out


def test_a_failing_request_reports_class_and_place_never_the_value(paths, monkeypatch):
    from orchestration.requests import handlers
    from orchestration.requests.service import RequestFailed

    def broken(service, request, now):
        raise ValueError(f"cannot handle {request.identifier}")

    monkeypatch.setitem(handlers.HANDLERS, "access", broken)
    request_id, _ = write_request(paths.inbox, {"type": "access", "email": EMAIL, "verification": "idin"})
    with RequestService(paths) as service:
        with pytest.raises(RequestFailed) as err:
            service.process(request_id)
        row = service.ledger.get(request_id)
    assert EMAIL not in str(err.value) and err.value.__cause__ is None and err.value.__suppress_context__
    assert row["status"] == "failed" and "ValueError at test_requests.py" in row["detail"]
    assert EMAIL.encode() not in paths.audit_log.read_bytes()
    assert any(paths.inbox.glob("*.json"))  # kept for a retry


def test_an_outbox_this_account_cannot_write_to_is_named_with_the_fix(paths, monkeypatch, capsys):
    """Review: "failed: PermissionError at package.py:60" named neither the folder nor the fix."""
    import errno

    real_open = os.open

    def no_access(path, flags, *args):  # as an outbox owned by another account (the tests run as root)
        if Path(path).parent == paths.outbox:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    request_id, _ = write_request(paths.inbox, {"type": "access", "email": EMAIL, "verification": "idin"})
    monkeypatch.setattr(os, "open", no_access)
    assert _cli(paths, "process-requests") == 1
    said = capsys.readouterr().out
    assert (f"request {request_id} failed: PermissionError at " in said and f" on {paths.outbox} "
            "(Permission denied): give the account that runs klantkluis write access to it, then `klantkluis process-requests`" in said)
    assert EMAIL not in said and f"{paths.outbox}/" not in said  # the folder, never a file's name
    monkeypatch.setattr(os, "open", real_open)  # the folder fixed: the request is answered
    assert _cli(paths, "process-requests") == 0
    assert f"{request_id} (access): completed" in capsys.readouterr().out


def test_a_request_record_and_its_receipt_go_when_the_request_records_rule_ends(paths, capsys):
    request_id, _ = write_request(paths.inbox, {"type": "objection", "customer_id": "C0000042",
                                                "verification": "in_person", "language": "en"})
    assert _cli(paths, "process-requests") == 0
    receipt, letter = paths.outbox / f"{request_id}.receipt.json", paths.outbox / f"{request_id}.receipt.letter.txt"
    assert f"  The letter to send the requester, in the language of the request: {letter}\n" in capsys.readouterr().out
    said = " ".join(letter.read_text().split())  # the letter to send, in the request's language
    assert said.startswith("Voorbeeld Verkoop B.V.") and f"Our reference: {request_id}" in said
    assert "Re: your objection (Art. 21 GDPR)" in said and "Autoriteit Persoonsgegevens (Art. 77 GDPR)" in said
    assert "Geachte" not in said and "AVG" not in said
    now = datetime.now(timezone.utc)
    with RequestService(paths) as service:  # the proof that it was answered: 5 years (policy rule)
        assert service.remove_expired(now + timedelta(days=1825))["request_records"] == 0
        assert receipt.exists() and service.ledger.get(request_id) is not None
        assert service.remove_expired(now + timedelta(days=1827))["request_records"] == 1
        assert not receipt.exists() and not letter.exists() and service.ledger.get(request_id) is None
        assert [e["details"]["request_id"] for e in service.audit.entries()
                if e["event"] == "request_record_removed"] == [request_id]
    capsys.readouterr()
    assert _cli(paths, "requests") == 0
    assert "0 request(s)." in capsys.readouterr().out


def test_a_folder_in_the_inbox_is_not_read_as_a_request(tmp_path):
    from orchestration.requests.inbox import inbox_files

    (tmp_path / "g.json").mkdir()  # a folder that happens to end in .json
    (tmp_path / "r.json").write_text(json.dumps({"type": "access"}))
    assert [path.name for path, _ in inbox_files(tmp_path).values()] == ["r.json"]


def test_the_inbox_is_a_folder_from_the_first_run_and_a_file_in_its_place_is_named_not_passed_over(
        paths, monkeypatch, capsys):
    """Review: no run made inbox/, so `cp request.json <home>/inbox` made a file of that name, and
    process-requests said "No valid requests pending" while the request's month ran (Art. 12(3))."""
    from orchestration.cli import main
    from privacy.exceptions import PrivacyError

    paths.prepare_dagster_home()  # as `klantkluis run` and `klantkluis ui` do
    assert paths.inbox.is_dir() and oct(paths.inbox.stat().st_mode)[-3:] == "700"
    shutil.rmtree(paths.inbox)  # an installation from before this change: no inbox/
    paths.inbox.write_text(json.dumps({"type": "access", "email": EMAIL, "verification": "idin",
                                       "received_at": "2026-12-01T10:00:00+01:00"}))  # copied before the folder was
    for name, value in paths.environment().items():
        monkeypatch.setenv(name, value)
    for argv in (["process-requests"], ["requests", "--open"], ["request", "access", "--customer", "C0000001",
                                                                "--verified-by", "idin"]):
        assert main(["--home", str(paths.home), *argv]) == 2
        out = capsys.readouterr()
        assert out.err.count("\n") == 1 and f"Error: {paths.inbox} is a file, not a folder" in out.err
        assert f"`mkdir -m 700 {paths.inbox}`" in out.err and EMAIL not in out.out + out.err
        assert "Traceback" not in out.out + out.err and "No valid requests" not in out.out
    resource = KlantkluisResource(home=str(paths.home))
    with DagsterInstance.ephemeral() as instance, pytest.raises(Exception, match="is a file, not a folder"):
        request_sensor(build_sensor_context(instance=instance, resources={"klantkluis": resource}))
    with pytest.raises(PrivacyError, match="is a file, not a folder"):
        paths.prepare_dagster_home()
    assert paths.inbox.is_file()  # the request itself is left where it is


def test_a_request_another_process_is_answering_says_when_it_is_taken_up_again(paths, capsys):
    """Crash review: a request whose process was killed showed 'processing -> -' for 30 minutes."""
    request_id, _ = write_request(paths.inbox, {"type": "access", "customer_id": "C0000002", "verification": "idin"})
    with RequestService(paths) as service:
        service.intake()
        started = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=5)
        assert service.ledger.claim(request_id, now=started)
    assert _cli(paths, "process-requests") == 0
    said = capsys.readouterr().out
    local = [f"{t.astimezone(LOCAL_TIME):%Y-%m-%d %H:%M}" for t in (started, started + timedelta(minutes=30))]
    assert (f"{request_id} (access): being answered by another process since {local[0]}; if that process was "
            f"stopped, run this command again from {local[1]}") in said


def test_hostile_documents_are_rejected_one_by_one_and_never_stop_the_others(paths):
    """Security review: a list, a string, deep nesting or a time at the edge of the calendar each
    stopped all intake (the one-month clocks of the others included)."""
    paths.inbox.mkdir(parents=True)
    for name, text in {"list.json": "[]", "string.json": '"hello"', "deep.json": "[" * 100_000,
                       "year1.json": json.dumps({"type": "access", "customer_id": "C0000001", "verification": "idin",
                                                 "received_at": "0001-01-01T00:00:00+01:00"})}.items():
        (paths.inbox / name).write_text(text)
    request_id, _ = write_request(paths.inbox, {"type": "access", "customer_id": "C0000002", "verification": "idin"})
    with RequestService(paths) as service:
        pending = service.intake()
        assert [r.request_id for r in pending] == [request_id]
        assert len(service.ledger.rows("rejected")) == 4
    assert sorted(p.suffix for p in (paths.inbox / "rejected").iterdir()) == [".json"] * 4


def test_a_document_with_half_a_character_is_rejected_and_never_stops_the_others(paths):
    """Security review: a lone UTF-16 surrogate escape (\\ud83d, half an emoji, as a portal's JavaScript
    writes a truncated text) in any field crashed intake with UnicodeEncodeError, so no request in the
    inbox was registered or answered while it lay there (Art. 12(3))."""
    paths.inbox.mkdir(parents=True)
    base = '"customer_id": "C0000001", "verification": "idin", "received_at": "2026-11-23T10:15:00+01:00"'
    (paths.inbox / "a-value.json").write_text('{"type": "rectification", "field": "phone", "value": "06\\ud83d", '
                                              + base + "}")
    (paths.inbox / "b-extra.json").write_text('{"type": "access", "note": "\\udc80", ' + base + "}")
    request_id, _ = write_request(paths.inbox, {"type": "access", "customer_id": "C0000002", "verification": "idin"})
    with RequestService(paths) as service:
        pending = service.intake()
        assert [r.request_id for r in pending] == [request_id]
        reasons = [json.loads(row["detail"])["reason"] for row in service.ledger.rows("rejected")]
    assert len(reasons) == 2 and all("lone UTF-16 surrogate" in r for r in reasons)
    assert sorted(p.name for p in paths.inbox.iterdir() if p.is_file() and p.suffix == ".json") == [f"{request_id}.json"]


def test_links_in_the_inbox_are_not_documents_and_a_linked_rejected_folder_is_refused(paths, tmp_path):
    """Security review: a link in the inbox had its target (master.key) read, moved and zeroed; a
    linked rejected/ folder let a document land anywhere (site-packages: code run at start-up)."""
    from privacy.exceptions import PrivacyError

    paths.inbox.mkdir(parents=True)
    secret = tmp_path / "master.key"
    secret.write_bytes(b"k" * 32)
    (paths.inbox / "scan.pdf").symlink_to(secret)
    os.utime(secret, (time.time() - 3600, time.time() - 3600))
    assert documents(paths.inbox) == []
    with RequestService(paths) as service:
        assert service.intake() == []
    assert secret.read_bytes() == b"k" * 32 and (paths.inbox / "scan.pdf").is_symlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (paths.inbox / "rejected").symlink_to(elsewhere)
    (paths.inbox / "letter.json").write_text("{not a request")
    with RequestService(paths) as service, pytest.raises(PrivacyError, match="rejected is a symbolic link"):
        service.intake()
    assert list(elsewhere.iterdir()) == [] and (paths.inbox / "letter.json").exists()
    elsewhere.rmdir()  # a link that points nowhere is refused the same way (review: it raised FileExistsError)
    with RequestService(paths) as service, pytest.raises(PrivacyError, match="rejected is a symbolic link"):
        service.intake()


def test_a_document_this_account_cannot_read_is_tracked_to_answer_by_hand_not_dropped(paths, monkeypatch):
    """Review: an unreadable document (its permissions) was skipped, so its month passed unseen."""
    import errno

    from orchestration.requests import inbox

    paths.inbox.mkdir(parents=True)
    locked = paths.inbox / "locked.json"
    locked.write_text("{}")
    real_open = os.open

    def no_access(path, flags, *args):
        if str(path).endswith("locked.json"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(inbox.os, "open", no_access)
    with RequestService(paths) as service:
        service.intake()
        [row] = service.ledger.rows("rejected")
    assert "cannot be read by this service account" in row["detail"]


def test_a_rejected_document_stating_an_old_receipt_is_kept_its_period_from_when_it_came_in(paths):
    """Security review: one stating a receipt long ago was destroyed the moment it was read."""
    paths.inbox.mkdir(parents=True)
    (paths.inbox / "late.json").write_text(json.dumps({"type": "access", "verification": "by phone",
                                                        "received_at": "2025-09-01T10:00:00+02:00"}))
    with RequestService(paths) as service:
        service.intake()
        [row] = service.ledger.rows("rejected")
        assert row["due_at"].startswith("2025-10-01")  # overdue from the start: the law's clock
        kept = paths.inbox / "rejected" / f"{row['request_id']}.json"
        assert kept.exists()
        service.remove_expired(datetime.now(timezone.utc) + timedelta(days=29))
        assert kept.exists()
        service.remove_expired(datetime.now(timezone.utc) + timedelta(days=31))
        assert not kept.exists()


def test_an_email_address_shared_by_two_records_is_refused_not_answered_for_both(paths, capsys):
    landing = paths.landing / "crm_customers"
    landing.mkdir(parents=True)
    (landing / "2026-11-01.csv").write_text("customer_id,first_name,last_name,email\n"
                                            f"C0000001,Anna,Bakker,{EMAIL}\nC0000002,Piet,Bakker,{EMAIL}\n")
    for kind in ("access", "erasure"):
        write_request(paths.inbox, {"type": kind, "email": EMAIL, "verification": "email_confirmation"})
    assert _cli(paths, "process-requests") == 0
    assert not list(paths.outbox.glob("*.zip"))  # no export of either person
    receipts = [json.loads(p.read_text()) for p in paths.outbox.glob("*.receipt.json")]
    assert sorted(r["type"] for r in receipts) == ["access", "erasure"]
    assert all("more than one customer or contact" in r["explanation"]["en"] for r in receipts)
    assert all("art. 77" in r["your_rights"]["complaint"]["nl"] and "art. 79" in r["your_rights"]["complaint"]["nl"]
               for r in receipts)
    assert EMAIL not in capsys.readouterr().out


def test_an_address_only_a_landing_file_holds_finds_its_customer_and_one_removed_since_is_refused(paths):
    """Review: a customer whose CRM export was not loaded yet (or quarantined), with orders loaded,
    was refused as if their record had been removed."""
    import duckdb

    from orchestration.ingest.schema import ensure_raw_tables
    from orchestration.requests.common import Refused

    landing = paths.landing / "crm_customers"
    landing.mkdir(parents=True)
    (landing / "2026-11-01.csv").write_text(f"customer_id,first_name,last_name,email\nC0000001,Anna,Bakker,{EMAIL}\n")
    now = datetime.now(timezone.utc)
    with RequestService(paths) as service:
        sid = service.pseudonymiser.subject_id("customer", "C0000001")
        with duckdb.connect(str(paths.warehouse)) as con:
            ensure_raw_tables(con, [t for t in service.classification if t.name in ("orders", "crm_customers")
                                    and t.layer == "source"])
            con.execute("insert into raw.orders (subject_id) values (?)", [sid])
        request = service.parse(json.dumps({"type": "access", "email": EMAIL, "verification": "idin",
                                            "received_at": "2026-11-01T10:00:00+01:00"}).encode())
        assert service.subjects(request, now) == [("customer", sid)]
        (landing / "2026-11-01.csv").unlink()  # removed after its period: only the orders are left
        with pytest.raises(Refused, match="belongs to no current record"):
            service.subjects(request, now)


def test_one_customer_and_one_lead_with_one_address_are_answered_together(paths):
    with RequestService(paths) as service:  # a lead who became a customer: one person, two records
        service.ledger.index.index_file("crm_customers", "c.csv", "v", [(service.pseudonymiser.lookup_hmac(EMAIL),
                                         "customer", service.pseudonymiser.subject_id("customer", "C0000001"))], set())
        service.ledger.index.index_file("leads", "l.csv", "v", [(service.pseudonymiser.lookup_hmac(EMAIL), "lead",
                                         service.pseudonymiser.subject_id("lead", "L0000001"))], set())
        request = service.parse(json.dumps({"type": "access", "email": EMAIL, "verification": "idin",
                                            "received_at": "2026-11-01T10:00:00+01:00"}).encode())
        assert sorted(kind for kind, _ in service.subjects(request, datetime.now(timezone.utc))) == ["customer", "lead"]


def test_an_erasure_receipt_claims_a_destroyed_key_only_when_one_was():
    from orchestration.requests.erasure import _explanation
    from privacy.policy import load_policy

    policy = load_policy()
    done = {"keys_shredded": 0, "kept": [], "earlier_exports_deleted": []}  # a customer known from orders only
    nl, en = _explanation(True, done, policy)
    assert "key" not in en and "sleutel" not in nl and "(5 years) and our log (7 years)" in en
    assert "Your key is destroyed" in _explanation(True, {**done, "keys_shredded": 1}, policy)[1]
    assert _explanation(False, done, policy)[1].startswith("We found no data about you")
    # a policy without the rule access_exports sets no end to keeping an export: it went, undelivered
    assert "had not been delivered to you yet" in _explanation(True, {**done, "earlier_exports_deleted": ["req-1"]},
                                                               policy)[1]


def test_a_huge_document_is_tracked_to_answer_by_hand_without_being_read_whole(paths, monkeypatch):
    """Security review (left alone then): every inbox document was read whole, so one huge file cost
    its size in memory at every intake. It is read in chunks, and answered by hand like a letter."""
    import hashlib

    from orchestration.requests import inbox

    monkeypatch.setattr(inbox, "MAX_DOCUMENT", 1000)
    paths.inbox.mkdir(parents=True)
    body = json.dumps({"type": "access", "customer_id": "C1", "verification": "by phone", "pad": "x" * 5000})
    (paths.inbox / "scan.json").write_text(body)
    reads, real_fdopen = [], os.fdopen

    class Counted:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            reads.append(n)
            return self.f.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(inbox.os, "fdopen", lambda fd, mode: Counted(real_fdopen(fd, mode)))
    [(request_id, (_, raw))] = inbox.inbox_files(paths.inbox).items()
    monkeypatch.setattr(inbox.os, "fdopen", real_fdopen)
    assert -1 not in reads and max(reads) <= 1001  # never read whole
    assert request_id == "req-" + hashlib.sha256(body.encode()).hexdigest()[:20] and len(raw) <= 4096
    with RequestService(paths) as service:
        service.intake()
        [row] = service.ledger.rows("rejected")
    assert row["request_id"] == request_id and "larger than" in row["detail"] and "by hand" in row["detail"]
    assert (paths.inbox / "rejected" / f"{request_id}.json").read_text() == body  # kept as it came


def test_an_erasure_by_a_number_nobody_has_leaves_no_tombstone_for_whoever_gets_it_later(paths):
    """Review: erasing an unknown number shredded a key that never was, and the tombstone suppressed
    the customer given that number later for the tombstone's 7 years. A number a landing file holds
    (not loaded yet; with or without an address; in any source) is someone's: tombstoned."""
    (paths.landing / "crm_customers").mkdir(parents=True)
    (paths.landing / "crm_customers" / "2026-11-01.csv").write_text(
        f"customer_id,first_name,last_name,email\nC0000001,Test,Person1,{EMAIL}\nC0000007,Test,Person7,\n")
    (paths.landing / "orders").mkdir()
    (paths.landing / "orders" / "2026-11-01.csv").write_text("order_id,customer_id\nO1,C0000008\nO2,C00000420\n")
    numbers = ("C0000001", "C0000007", "C0000008", "C0000042")  # C0000042 only inside another number
    filed = {number: write_request(paths.inbox, {"type": "erasure", "customer_id": number,
                                                 "verification": "id_document"})[0] for number in numbers}
    write_request(paths.inbox, {"type": "objection", "lead_id": "L0000099", "verification": "phone_callback"})
    assert _cli(paths, "process-requests") == 0
    with RequestService(paths) as service:
        ids = {n: service.pseudonymiser.subject_id("customer", n) for n in numbers}
        nobody = {ids["C0000042"], service.pseudonymiser.subject_id("lead", "L0000099")}
        assert service.keystore.shredded(set(ids.values()) | nobody) == set(ids.values()) - nobody
        assert sorted(e["details"]["subject_id"] for e in service.audit.entries() if e["event"] == "key_shredded") == \
            sorted(set(ids.values()) - nobody)
    # Art. 12(1): the receipt promises to skip a later delivery (Art. 17, 19) only where a tombstone
    # does, and speaks of data in the landing files only of someone they hold
    said = {n: json.loads((paths.outbox / f"{filed[n]}.receipt.json").read_text()) for n in ("C0000007", "C0000042")}
    assert {"suppression", "source_systems"} <= set(said["C0000007"])
    assert not {"suppression", "source_systems"} & set(said["C0000042"])
    letter = (paths.outbox / f"{filed['C0000042']}.receipt.letter.txt").read_text()
    assert "Wij vonden geen gegevens over u" in letter and "bronsystemen" not in letter and "opnieuw" not in letter


def test_requests_counts_a_filed_request_before_it_is_processed(paths, capsys):
    """Onboarding review: right after `request erasure`, `requests --open` said 0 request(s)."""
    assert _cli(paths, "request", "erasure", "--customer", "C0000042", "--verified-by", "id_document") == 0
    capsys.readouterr()
    assert _cli(paths, "requests", "--open") == 0
    assert f"1 document(s) in {paths.inbox} not registered yet" in capsys.readouterr().out
    assert _cli(paths, "process-requests") == 0
    capsys.readouterr()
    assert _cli(paths, "requests") == 0
    assert capsys.readouterr().out.rstrip().endswith("1 request(s).")


def _access_and_erasure(paths) -> tuple[dict, dict, dict]:
    """The ledger rows of the access and the erasure request, and the erasure's receipt."""
    with RequestService(paths) as service:
        rows = {r["type"]: r for r in service.ledger.rows()}
    return rows["access"], rows["erasure"], json.loads(open(rows["erasure"]["result_path"]).read())


def _with_orders(paths, *numbers: str) -> None:
    """An orders landing file and a raw order of 2026-11-01 per customer number (as loaded, with no
    key): customers an erasure or an access request finds."""
    import duckdb

    from orchestration.ingest.schema import ensure_raw_tables

    (paths.landing / "orders").mkdir(parents=True)
    (paths.landing / "orders" / "2026-11-01.csv").write_text(
        "order_id,customer_id\n" + "".join(f"O{i},{n}\n" for i, n in enumerate(numbers, 1)))
    with RequestService(paths) as service, duckdb.connect(str(paths.warehouse)) as con:
        ensure_raw_tables(con, [t for t in service.classification if t.name == "orders" and t.layer == "source"])
        for number in numbers:
            con.execute("insert into raw.orders (subject_id, amount, order_date) values (?, '12.50', '2026-11-01')",
                        [service.pseudonymiser.subject_id("customer", number)])


def test_an_access_and_an_erasure_filed_together_answer_the_access_first_and_keep_its_export_for_delivery(paths, capsys):
    """Privacy review: "send me my data, then delete it" erased the export 0.1 s after it was made,
    and the subject never got an answer to Art. 15. One made before the erasure came in and not delivered
    stays too (test_an_access_export_not_delivered_yet_stays_for_delivery_when_the_subject_is_erased_later)."""
    _with_orders(paths, "C0000001")
    for kind in ("erasure", "access"):  # received at one moment, in either order: the access is answered first
        write_request(paths.inbox, {"type": kind, "customer_id": "C0000001", "verification": "id_document",
                                    "received_at": "2026-12-01T10:00:00+01:00"})
    assert _cli(paths, "process-requests") == 0
    said = capsys.readouterr().out
    access, erasure, receipt = _access_and_erasure(paths)
    assert access["status"] == erasure["status"] == "completed" and receipt["earlier_exports_deleted"] == 0
    assert os.path.exists(access["result_path"])
    [kept] = receipt["exports_kept_for_delivery"]
    answered = datetime.fromisoformat(access["completed_at"])
    assert kept == {"request_id": access["request_id"], "until": local_date(timestamp(answered + timedelta(days=30)))}
    assert f"until {shown(kept['until'], 'en')}, or less if you have it sooner; then we erase it" in receipt["explanation"]["en"]
    assert f"The access export of {access['request_id']}, not recorded as delivered, stays for delivery" in said
    # Once delivered it goes at once, not after its 30 days (Art. 5(1)(e)); only an access export can be
    assert _cli(paths, "request", "delivered", erasure["request_id"]) == 2
    assert _cli(paths, "request", "delivered", access["request_id"]) == 0
    assert not os.path.exists(access["result_path"]) and os.path.exists(erasure["result_path"])
    assert _cli(paths, "request", "delivered", access["request_id"]) == 2
    said = capsys.readouterr().out
    assert "Not recorded: req-" in said and "is no longer in the outbox" in said
    assert _cli(paths, "requests") == 0
    assert "rule delivered)" in capsys.readouterr().out
    with RequestService(paths) as service:
        assert [e["details"]["request_id"] for e in service.audit.entries()
                if e["event"] == "access_export_delivered"] == [access["request_id"]]


def test_a_failure_on_a_folder_this_account_may_not_search_is_still_recorded(tmp_path, monkeypatch):
    """Diff review: naming the folder asked whether the file was a folder, which re-raised the
    PermissionError of an outbox owned by another account (0700): the failure went unrecorded."""
    import errno

    from orchestration.requests.service import _failure

    real_stat, locked = os.stat, tmp_path / "outbox"

    def refused(path, *args, **kwargs):  # as a folder of another account (the tests run as root)
        if Path(path).parent == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refused)
    try:
        raise PermissionError(errno.EACCES, "Permission denied", str(locked / "req-1.receipt.json"))
    except PermissionError as exc:
        said = _failure(exc)
    assert f" on {locked} (Permission denied): give the account" in said and "req-1" not in said


def test_a_leads_withdrawal_that_changes_nothing_is_listed_as_found_as_its_receipt_says(paths, capsys):
    """Review: the receipt said the lead was found (and why nothing changed), while process-requests,
    `klantkluis requests` and the ledger said "no data found". A lead number nobody has is not found in both."""
    (paths.landing / "leads").mkdir(parents=True)
    (paths.landing / "leads" / "2026-11-01.csv").write_text(
        f"lead_id,first_name,last_name,email\nL0000004,Test,Lead4,{EMAIL}\n")
    ids = {}
    for lead in ("L0000004", "L0000099"):
        assert _cli(paths, "request", "withdraw", "--lead", lead, "--purpose", "profiling",
                    "--verified-by", "email_confirmation") == 0
        ids[lead] = capsys.readouterr().out.split()[1]
    assert _cli(paths, "process-requests") == 0
    processed = capsys.readouterr().out
    assert _cli(paths, "requests") == 0
    listed = capsys.readouterr().out
    with RequestService(paths) as service:
        known, nobody = (service.ledger.get(ids[lead]) for lead in ("L0000004", "L0000099"))
    assert json.loads(open(known["result_path"]).read())["effect"]["en"].startswith("We do not use your details")
    for row, found in ((known, True), (nobody, False)):
        assert json.loads(open(row["result_path"]).read())["found"] is json.loads(row["detail"])["found"] is found
        said = [line for line in processed.splitlines() + listed.splitlines() if line.startswith(row["request_id"])]
        assert len(said) == 2 and all(("no data found" in line) is not found for line in said)


def test_an_access_export_not_delivered_yet_stays_for_delivery_when_the_subject_is_erased_later(paths, capsys):
    """Review: an access export made but never recorded as delivered was deleted by the subject's later
    erasure, whose receipt said the copy they asked for was erased with their data as if they had it, and
    process-requests claimed the receipt told the requester otherwise. The Art. 15 answer is still owed:
    the export stays until it is delivered or its rule ends; only a delivered copy is said to be erased."""
    _with_orders(paths, "C0000004", "C0000005")
    write_request(paths.inbox, {"type": "access", "customer_id": "C0000004", "verification": "portal_login",
                                "language": "en"})
    assert _cli(paths, "process-requests") == 0  # answered; `request delivered` is never run
    time.sleep(1)  # the erasure comes in after the export was made
    write_request(paths.inbox, {"type": "erasure", "customer_id": "C0000004", "verification": "id_document"})
    assert _cli(paths, "process-requests") == 0
    said = capsys.readouterr().out
    access, erasure, receipt = _access_and_erasure(paths)
    assert os.path.exists(access["result_path"]) and "removed" not in json.loads(access["detail"])
    until = local_date(timestamp(datetime.fromisoformat(access["completed_at"]) + timedelta(days=30)))
    assert receipt["exports_kept_for_delivery"] == [{"request_id": access["request_id"], "until": until}]
    assert receipt["earlier_exports_deleted"] == receipt["earlier_exports_delivered"] == 0
    assert f"have not delivered to you yet is kept only to deliver it to you: until {shown(until, 'en')}" in \
        receipt["explanation"]["en"]
    assert "eerder bezorgden" not in receipt["explanation"]["nl"]  # no delivered copy claimed
    assert f"The access export of {access['request_id']}, not recorded as delivered, stays for delivery until {until}" in said
    assert "went with the data" not in said
    with RequestService(paths) as service:  # the rule removes it once its days are over, delivered or not
        assert service.remove_expired(datetime.now(timezone.utc) + timedelta(days=31))["access_exports"] == 1
    assert not os.path.exists(access["result_path"])
    # Delivered first, then erased: the receipt speaks of the copy delivered, and keeps nothing.
    write_request(paths.inbox, {"type": "access", "customer_id": "C0000005", "verification": "portal_login"})
    assert _cli(paths, "process-requests") == 0
    with RequestService(paths) as service:
        [access] = [r for r in service.ledger.rows() if r["type"] == "access" and r["request_id"] != access["request_id"]]
    assert _cli(paths, "request", "delivered", access["request_id"]) == 0
    write_request(paths.inbox, {"type": "erasure", "customer_id": "C0000005", "verification": "id_document"})
    assert _cli(paths, "process-requests") == 0
    with RequestService(paths) as service:
        [erasure] = [r for r in service.ledger.rows("completed") if r["type"] == "erasure"
                     and r["request_id"] != erasure["request_id"]]
    receipt = json.loads(open(erasure["result_path"]).read())
    assert receipt["earlier_exports_delivered"] == 1 and receipt["exports_kept_for_delivery"] == []
    assert "we delivered to you earlier we erased as soon as it was delivered" in receipt["explanation"]["en"]


def test_an_access_request_after_an_erasure_says_when_we_erased_and_what_we_still_keep(paths, capsys):
    """Review: an access request after an erasure answered "we do not process personal data about you",
    though the erasure's records and log stay, its orders are kept by law and the landing files hold the
    data for up to 30 days, as the erasure receipt itself says; and the page spoke of json/ and csv/
    folders it did not have."""
    from privacy.rights import texts

    _with_orders(paths, "C0000004")
    write_request(paths.inbox, {"type": "erasure", "customer_id": "C0000004", "verification": "id_document"})
    assert _cli(paths, "process-requests") == 0
    write_request(paths.inbox, {"type": "access", "customer_id": "C0000004", "verification": "portal_login"})
    assert _cli(paths, "process-requests") == 0
    access, _, erasure = _access_and_erasure(paths)
    with zipfile.ZipFile(access["result_path"]) as z:
        page, summary = z.read("overzicht.nl.html").decode(), z.read("summary.en.html").decode()
        confirmation = json.loads(z.read("metadata.json"))["art15"]["confirmation"]["content"]
        assert not any(name.startswith(("json/", "csv/")) for name in z.namelist())
    on, ends = local_date(erasure["key_shredded"]["at"]), erasure["kept"][0]["legal_duty_ends"]
    assert f"Wij hebben uw gegevens gewist op {shown(on, 'nl')}." in page
    assert f"We erased your data on {shown(on, 'en')}." in summary
    assert f"Uw bestellingen bewaren wij tot {shown(ends, 'nl')}" in page  # the erasure receipt's own statements
    assert "exportbestanden van onze bronsystemen" in page and "30 dagen nadat ze geladen zijn verwijderd" in page
    assert "landing/" not in page  # review (data subject): a folder name of ours means nothing to them
    assert "(5 jaar) en ons logboek (7 jaar)" in page and "(5 years) and our log (7 years)" in summary
    assert texts.NOT_FOUND[0] not in page and texts.NOT_FOUND[1] not in summary
    assert "json/" not in page and "json/" not in summary  # no folders to speak of
    assert confirmation["personal_data_processed"] is True and confirmation["datasets"] == 0
    assert "C0000004" not in page + summary
    assert page.count("opnieuw worden geladen") == 1  # the suppression said once (review)
    assert "(no data found" not in capsys.readouterr().out  # the operator is told as the subject is
    with RequestService(paths) as service:  # once the landing files' 30 days are over, they are not spoken of
        later = datetime.now(timezone.utc) + timedelta(days=31)
        said = erased_before(service, [service.pseudonymiser.subject_id("customer", "C0000004")], later)
    assert "landing/" not in said[0] and f"gewist op {shown(on, 'nl')}" in said[0]


def test_requests_lists_the_results_in_this_installation_after_a_move(paths, tmp_path, capsys):
    """Operations review: after a home was restored elsewhere, `klantkluis requests` showed the old
    home's paths and called an export there "deleted" (or, with the old home still present, alive)."""
    write_request(paths.inbox, {"type": "access", "customer_id": "C0000004", "verification": "portal_login"})
    assert _cli(paths, "process-requests") == 0
    moved = Paths.from_home(tmp_path / "elsewhere", tmp_path / "elsewhere" / "keys")
    shutil.copytree(paths.home, moved.home)
    shutil.rmtree(paths.home)  # the old machine is gone
    capsys.readouterr()
    assert _cli(moved, "requests") == 0
    listed = capsys.readouterr().out
    assert str(moved.outbox) in listed and str(paths.outbox) not in listed and "(deleted" not in listed


def test_a_request_an_older_version_registered_with_a_near_miss_field_is_still_answered(paths, monkeypatch):
    """Review: a document registered before misspelt fields were refused (`langauge` was ignored then)
    was moved to inbox/rejected/ by the first intake after the upgrade, and its request, received
    and owed an answer within the month (Art. 12(3)), failed: 'the request file is no longer in the
    inbox'."""
    import privacy.rights.requests as requests_module

    request_id, path = write_request(paths.inbox, {"type": "access", "customer_id": "C0000042",
                                                   "verification": "in_person", "langauge": "en"})
    with monkeypatch.context() as older:  # the older version: no field was a near miss
        older.setattr(requests_module, "FIELDS", (*requests_module.FIELDS, "langauge"))
        with RequestService(paths) as service:
            assert [r.request_id for r in service.intake()] == [request_id]
    with RequestService(paths) as service:
        assert [r.request_id for r in service.intake()] == [request_id]
        assert path.exists() and service.ledger.get(request_id)["status"] == "received"
        assert service.process(request_id).status == "completed"
        assert not any(e["event"] == "request_rejected" for e in service.audit.entries())
    # a new document with the same near miss is still refused, with the field meant
    other, _ = write_request(paths.inbox, {"type": "access", "customer_id": "C0000043",
                                           "verification": "in_person", "langauge": "en"})
    with RequestService(paths) as service:
        assert service.intake() == []
        assert service.ledger.get(other)["status"] == "rejected"
        assert "did you mean language" in json.loads(service.ledger.get(other)["detail"])["reason"]


def test_the_cover_letter_of_an_export_without_data_speaks_of_no_folders_it_lacks(paths):
    """Art. 12(1): the letter sent with an export of someone we hold nothing of (or erased) said that
    the folders json/ and csv/ in the zip hold their data; the zip has no such folders (the page
    already said nothing of them)."""
    write_request(paths.inbox, {"type": "access", "customer_id": "C0000042", "verification": "in_person"})
    assert _cli(paths, "process-requests") == 0
    [export] = paths.outbox.glob("*.zip")
    said = " ".join(export.with_suffix(".letter.txt").read_text().split())
    with zipfile.ZipFile(export) as z:
        assert not any(name.startswith(("json/", "csv/")) for name in z.namelist())
    assert f"in het bestand {export.name}. Open daarin overzicht.nl.html" in said
    assert "json/" not in said and "csv/" not in said and "art. 20" not in said


def test_a_rectification_receipt_names_the_field_and_what_still_holds_the_old_value(paths):
    """Art. 12(1), 16, 19: the letter said "the corrected value replaced the old one in every stored
    version", naming neither which of the requester's data was corrected nor that the landing file it
    was loaded from (and the source system, until corrected there) still holds the old value."""
    from orchestration.requests.changes import rectified_effect

    with RequestService(paths) as service:
        crm = service.classification.table("crm_customers", "source")
        days = service.policy.retention["landing_files"].duration_days
        said = rectified_effect(crm, "house_number", service.policy)
    assert "'Huisnummer'" in said["nl"] and "'House number'" in said["en"] and "house_number" not in str(said)
    assert f"{days} dagen nadat ze geladen zijn verwijderd" in said["nl"] and "(ook daar geldt art. 16 AVG)" in said["nl"]
    assert f"removed {days} days after they were loaded" in said["en"] and "every stored version" not in said["en"]


def test_a_field_rectified_twice_with_a_backup_between_names_the_second_request_after_a_restore(paths):
    """Art. 16, 5(1)(d) (diff review): the rows' mark named the field only, so a backup taken between two
    rectifications of one field, restored, held the first request's mark and the second request, whose
    corrected value it lacks, went unnamed by the sweep's check. A mark a release before request ids
    wrote (the field alone) still counts for every request of that field."""
    import duckdb

    from orchestration.ingest.writer import load_file
    from orchestration.requests.changes import rectifications_lost
    from privacy.crypto import decrypt_values

    landing = paths.landing / "crm_customers"
    landing.mkdir(parents=True)
    (landing / "2026-11-01.csv").write_text(
        "customer_id,first_name,last_name,email,phone,birth_date,gender,street,house_number,postcode,city,iban,"
        "status,customer_since,relationship_end,account_manager,exported_at\n"
        "C0000001,,,,0611111111,,,,,,,,active,2020-01-01,,,2026-11-01 06:00:00\n")
    now = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
    backup, ids = paths.home / "backup.duckdb", []
    with RequestService(paths) as service:
        with duckdb.connect(str(paths.warehouse)) as con:
            load_file(con, service.classification.table("crm_customers", "source"), landing / "2026-11-01.csv",
                      service.ingest_context(now))
        for day, phone in ((1, "0622222222"), (2, "0633333333")):
            request_id, _ = write_request(paths.inbox, {"type": "rectification", "customer_id": "C0000001",
                                                        "field": "phone", "value": phone, "verification": "idin",
                                                        "received_at": f"2026-12-0{day}T10:00:00+01:00"})
            assert service.process(request_id, now + timedelta(hours=day)).status == "completed"
            ids.append(request_id)
            if day == 1:
                shutil.copy(paths.warehouse, backup)  # the backup between the two
        with duckdb.connect(str(paths.warehouse)) as con:  # a reload of the unchanged file keeps the value
            reloaded = load_file(con, service.classification.table("crm_customers", "source"),
                                 landing / "2026-11-01.csv", service.ingest_context(now + timedelta(hours=3)),
                                 full_refresh=True)
            sid, phone, marks = con.execute("select subject_id, phone, _rectified from raw.crm_customers").fetchone()
            phone = decrypt_values([phone], [sid], "crm_customers", "phone", service.keystore, purpose="test")
            kept = rectifications_lost(service, con)
        shutil.copy(backup, paths.warehouse)
        with duckdb.connect(str(paths.warehouse)) as con:
            restored = rectifications_lost(service, con)
            con.execute("update raw.crm_customers set _rectified = 'phone'")  # as a release before request ids
            upgraded = rectifications_lost(service, con)
    assert reloaded.corrections_kept == 1 and phone == ["0633333333"] and marks == ",".join(f"phone:{i}" for i in ids)
    assert (kept, restored, upgraded) == ([], [ids[1]], [])


def test_withdrawals_an_older_release_loaded_are_kept_beside_the_keys_after_the_upgrade(paths):
    """Upgrade: a release before the key store kept withdrawals loaded an objection's events into the
    warehouse only; a later restore of a backup older than the objection put the objector back in the
    marketing audience. The sweep's withdraw_again keeps them beside the keys first, once; events a
    source delivered are not a request's."""
    import duckdb

    from orchestration.ingest.schema import ensure_raw_tables
    from orchestration.requests.changes import withdraw_again

    now = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
    with RequestService(paths) as service, duckdb.connect(str(paths.warehouse)) as con:
        ensure_raw_tables(con, [t for t in service.classification if t.name == "consent_events" and t.layer == "source"])
        sid = service.pseudonymiser.subject_id("customer", "C0000001")
        con.executemany(
            "insert into raw.consent_events (subject_id, event_id, purpose, action, occurred_at, notice_version, "
            "channel, _source_file) values (?, ?, ?, 'withdrawn', '2026-12-01T10:00:00', '2024.2', ?, ?)",
            [[sid, f"req-0123456789abcdef0123-{p}", p, "privacy_request", "req-0123456789abcdef0123.csv"]
             for p in ("marketing_email", "telemarketing")]
            + [[sid, "E1", "profiling", "web", "2026-11-30.csv"]])
        assert service.keystore.withdrawals() == []  # as the older release left it
        assert withdraw_again(service, con, now) == []  # the warehouse holds them: nothing to load again
        kept = service.keystore.withdrawals()
        assert [(w["event_id"], w["subject_id"], w["request_id"], w["occurred_at"]) for w in kept] == [
            (f"req-0123456789abcdef0123-{p}", sid, "req-0123456789abcdef0123", "2026-12-01T10:00:00")
            for p in ("marketing_email", "telemarketing")]
        withdraw_again(service, con, now)
        assert service.keystore.withdrawals() == kept


def test_the_requests_line_says_open_requests_and_unregistered_documents_as_two_sentences(paths):
    """Upgrade walk: status ran them together ("... `klantkluis requests --open` 1 document(s) in ...")."""
    from orchestration.requests.common import requests_note

    for customer in ("C0000001", "C0000002"):
        assert _cli(paths, "request", "access", "--customer", customer, "--verified-by", "portal_login") == 0
    with RequestService(paths) as service:  # one registered, as an older release registered on filing
        service.intake()
    assert _cli(paths, "request", "access", "--customer", "C0000003", "--verified-by", "portal_login") == 0
    note = requests_note(paths)
    assert "`klantkluis requests --open`. 1 document(s) in" in note and note.endswith("`klantkluis process-requests`.")
