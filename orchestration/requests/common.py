"""What the request service and its handlers share: outcomes, errors, receipts (Art. 12(3)-(4)),
re-publication of the BI copies after a change (Art. 17, 19)."""

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from orchestration.publish import publish
from orchestration.settings import DBT_PROJECT_DIR
from privacy.audit import timestamp
from privacy.classification import load_classification
from privacy.policy import load_policy
from privacy.rights import texts
from privacy.rights.letter import write_letter
from privacy.rights.package import write_json
from privacy.rights.purge import overwritten_when_replaced
from privacy.rights.rectify import rectifiable_fields
from privacy.rights.requests import Request

JOBS = {"access": "access_request", "erasure": "erasure_request", "rectification": "rectification_request",
        "objection": "consent_request", "withdraw_consent": "consent_request"}
MASTER_TABLES = {"customer": "crm_customers", "lead": "leads"}  # where a subject's own details are


@dataclass(frozen=True)
class Outcome:
    request_id: str
    type: str
    status: str
    result_path: str | None = None
    detail: dict = field(default_factory=dict)


def parse_rules(classification=None, policy=None) -> dict:
    """What a request may name: the consent purposes (policy) and the rectifiable fields (classification)."""
    classification = classification or load_classification(DBT_PROJECT_DIR)
    fields = {f for t in classification if t.layer == "source" and t.name in MASTER_TABLES.values()
              for f in rectifiable_fields(t)}
    return {"consent_purposes": list((policy or load_policy()).consent_purposes), "fields": fields}


class Refused(Exception):
    """The request cannot be carried out (Art. 12(4)): the message (field and rule names, never
    values) is the reason for the operator, ``plain`` the (Dutch, English) one for the subject."""

    def __init__(self, reason: str, plain: tuple[str, str] | None = None):
        super().__init__(reason)
        self.plain = plain or (f"Wij kunnen dit verzoek niet uitvoeren ({reason}). Neem contact met ons op als u "
                               "vragen hebt.", f"We cannot carry out this request ({reason}). Please contact us "
                               "if you have questions.")


def receipt(request: Request, now: datetime, article: str, **content) -> dict:
    """The common head of every receipt: what was asked, when, by whom (verified how), when due."""
    return {"request_id": request.request_id, "type": request.type, "article": article,
            "received_at": timestamp(request.received_at), "due_at": timestamp(request.due_at),
            "completed_at": timestamp(now), "identity_verified_by": request.verification,
            "language": request.language, **content,
            "your_rights": {"complaint": texts.both(texts.COMPLAINT)}}


def write_receipt(service, document: dict) -> str:
    """``outbox/<request id>.receipt.json`` and the letter of it in the request's language,
    ``<request id>.receipt.letter.txt`` (mode 0600); returns the receipt's path."""
    path = write_json(service.paths.outbox / f"{document['request_id']}.receipt.json", document)
    write_letter(path, document, service.policy.controller, datetime.fromisoformat(document["completed_at"]))
    return str(path)


def unregistered(paths, now: datetime | None = None) -> str | None:
    """A note on the inbox documents the ledger has not registered yet, with the earliest answer due
    (their month of Art. 12(3) runs from arrival, registered or not: see ``inbox.arrival``) and how
    many are overdue; None when there are none. Counts and dates only."""
    from orchestration.requests.inbox import arrival, inbox_files
    from privacy.rights.ledger import Ledger
    from privacy.rights.requests import local_date, months_after

    now = now or datetime.now(timezone.utc)
    registered = set()
    if (paths.state / "requests.sqlite").exists():
        with Ledger(paths.state / "requests.sqlite") as ledger:
            registered = {r["request_id"] for r in ledger.rows()}
    waiting = [doc for request_id, doc in inbox_files(paths.inbox).items() if request_id not in registered]
    if not waiting:
        return None
    due = sorted(months_after(arrival(path, raw or b"", now), 1) for path, raw in waiting)
    overdue = sum(d < now for d in due)
    return (f"{len(waiting)} document(s) in {paths.inbox} not registered yet, the first answer due "
            f"{local_date(due[0].isoformat())}" + (f", {overdue} overdue" if overdue else "")
            + ": the Dagster sensor takes them (while `klantkluis daemon` runs), or `klantkluis process-requests`.")


def open_requests(paths, now: datetime | None = None) -> str | None:
    """A reminder of the requests not answered yet (Art. 12(3)-(4)), for the run summary and the
    sensor; None when there are none. Counts only."""
    from privacy.rights.ledger import Ledger

    if not (paths.state / "requests.sqlite").exists():
        return None
    with Ledger(paths.state / "requests.sqlite") as ledger:
        open_, overdue = ledger.unanswered(now or datetime.now(timezone.utc))
    if not open_:
        return None
    by_hand = sum(r["status"] == "rejected" for r in open_)
    return (f"{len(open_)} data subject request(s) not answered yet, {len(overdue)} overdue"
            + (f", {by_hand} rejected document(s) to answer by hand" if by_hand else "")
            + ": `klantkluis requests --open`")


def requests_note(paths) -> str | None:
    """The Requests line of the run summary and of `klantkluis status`: the requests not answered
    yet and the inbox documents not registered yet (a run from cron answers none: the sensor or
    `process-requests` does). None when there are neither."""
    # each note its own sentence: the open requests' ends in a command, without a full stop
    return " ".join(note if note.endswith(".") else f"{note}."
                    for note in (open_requests(paths), unregistered(paths)) if note) or None


def republish(paths) -> dict | None:
    """Publish the marts again so the BI copies follow the warehouse at once (Art. 17, 21(3));
    the bytes of the replaced copies are overwritten. None when nothing was published before."""
    current = paths.published / "marts.duckdb"
    if not current.exists() or not paths.warehouse.exists():
        return None
    parquet = paths.published / "parquet" / "current"
    old = [current, *(sorted(parquet.resolve().glob("*.parquet")) if parquet.exists() else [])]
    started = time.perf_counter()
    with overwritten_when_replaced(old):
        result = publish(paths.warehouse, paths.published, datetime.now(timezone.utc))
    return {"marts": len(result.tables), "seconds": round(time.perf_counter() - started, 3)}
