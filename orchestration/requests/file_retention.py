"""Request files and records past their retention rule (Art. 5(1)(e)).

A rejected document may name its sender in plain text, an access export (Art. 15, 20) is all of a
subject's data: each is kept as long as its rule in ``privacy/policy.yml`` says, counted from the
request's completion, then overwritten and removed, with an audit entry and a note in the ledger.
A rejected document is kept until it was answered by hand, then as long as its rule says; one
never recorded as answered goes that long after its answer was due. The
record of a request (its ledger row, with the pseudonymous ids), its receipt, any extension
notice and the letters to the requester are the proof that it was answered (Art. 5(2)); they go
when the rule ``request_records`` ends.
``RequestService.remove_expired`` runs this when the inbox is read and in the daily retention
sweep, so files also go when no request arrives.
"""

import json
from datetime import datetime
from pathlib import Path

from privacy.audit import timestamp
from privacy.rights.ledger import ANSWERED
from privacy.rights.letter import letter_of

REJECTED = "rejected"  # <inbox>/rejected/<request id>.<its own suffix, .json if none>
EXTENSION_NOTICE = ".extension.json"  # <outbox>/<request id>.extension.json: an extended deadline (Art. 12(3))
RECORDS = "request_records"
RULES = {"rejected_requests": "rejected_request_removed", "access_exports": "access_export_removed",
         RECORDS: "request_record_removed"}


def rejected_document(inbox: Path, request_id: str) -> Path:
    """Where a rejected document is kept: its request id with the suffix it came with."""
    return next((inbox / REJECTED).glob(f"{request_id}.*"), inbox / REJECTED / f"{request_id}.json")


def record_files(outbox: Path, request_id: str) -> list[Path]:
    """A request's files in the outbox that prove it was answered (Art. 5(2)): the receipt, an
    extension notice and the letters of each, and the cover letter of an access export."""
    documents = [outbox / f"{request_id}.receipt.json", outbox / f"{request_id}{EXTENSION_NOTICE}"]
    return [*documents, *map(letter_of, documents), letter_of(outbox / f"{request_id}.zip")]


def export_path(paths, row: dict) -> Path:
    """Where a request's result (an access export, a receipt, a rejected document) is in this
    installation: by name in its outbox, or in the inbox's rejected folder (the stored path is
    wrong once the home has moved or was restored elsewhere)."""
    stored = Path(row["result_path"])
    return paths.inbox / REJECTED / stored.name if stored.parent.name == REJECTED else paths.outbox / stored.name


def _files(service, rule: str) -> list[tuple[Path, dict]]:
    if rule == "rejected_requests":  # from the answer given by hand (Ledger.answered), at the latest from its due date
        return [(rejected_document(service.paths.inbox, r["request_id"]), r) for r in service.ledger.rows()
                if r["type"] == "invalid" and r["status"] in ("answered", "rejected")]
    if rule == "access_exports":
        return [(export_path(service.paths, r), r) for r in service.ledger.rows("completed")
                if r["type"] == "access" and r["result_path"]]
    return [(service.paths.outbox / f"{r['request_id']}.receipt.json", r) for r in service.ledger.rows()
            if r["status"] in ANSWERED]


def _unanswered_since(row) -> str:
    """A rejected document never answered counts from its due date, or from when it came in if that
    is later: one that states an old receipt is not destroyed the moment it arrives."""
    registered = json.loads(row["detail"] or "{}").get("registered_at")
    return max(row["due_at"], registered, key=datetime.fromisoformat) if registered else row["due_at"]


def remove_expired(service, now: datetime) -> dict[str, int]:
    """Rule -> number of files (or request records) removed because their rule ended before ``now``."""
    removed = {}
    for rule, event in RULES.items():
        policy_rule = service.policy.retention.get(rule)
        if policy_rule is None:
            continue
        cutoff, removed[rule] = policy_rule.cutoff(now), 0
        for path, row in _files(service, rule):
            since = row["completed_at"] or (_unanswered_since(row) if row["status"] == "rejected" else None)
            if not (since and datetime.fromisoformat(since) < cutoff):
                continue
            if rule == RECORDS:  # the receipt, an extension notice, their letters, and the record itself
                for record in record_files(service.paths.outbox, row["request_id"]):
                    service.discard(record)
                service.ledger.forget(row["request_id"])
            elif path.exists():
                service.discard(path)
                service.ledger.update_detail(row["request_id"], {"removed": {"at": timestamp(now), "rule": rule}})
            else:
                continue
            service.audit.append(event, now=now, request_id=row["request_id"], rule=rule)
            removed[rule] += 1
    return removed
