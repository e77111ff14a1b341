"""The request ledger: SQLite beside (never inside) the warehouse.

The warehouse is locked while dbt runs, yet a request must be registered and its status shown
at any time, so the ledger lives in its own file (``<home>/state/requests.sqlite``). It holds
keyed HMACs and pseudonymous ids, never an e-mail address or customer number (Art. 5(1)(c)),
and serves as the record of requests and their deadlines (Art. 5(2), 12(3)). The same file
holds the blind indexes (:mod:`privacy.rights.blind_index`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from privacy.audit import timestamp
from privacy.exceptions import PrivacyError
from privacy.paths import private_dir, sqlite_problem
from privacy.rights.blind_index import BlindIndex
from privacy.rights.requests import Request, local_date, months_after
from privacy.rights.texts import EXTENSION_REASONS

_SCHEMA = """
pragma secure_delete = on; pragma journal_mode = wal;
create table if not exists requests (
    request_id text primary key, type text not null, status text not null, identifier_kind text,
    identifier_hmac text, subjects text not null default '[]', verification text, received_at text not null,
    due_at text not null, started_at text, completed_at text, result_path text, detail text not null default '{}');
"""
ANSWERED = ("completed", "refused", "answered")  # statuses of a request that is done with
STATUSES = ("received", "processing", "failed", "rejected", *ANSWERED)
STALE = timedelta(minutes=30)  # a request "processing" this long was interrupted: it may be claimed again


def requests_about(path: str | os.PathLike[str], subject_id: str) -> list[str]:
    """The ids of the requests about ``subject_id`` in the ledger at ``path``, read only (for the
    audit trail of one person, Art. 5(2)); none when there is no ledger."""
    if not os.path.exists(path):
        return []
    with contextlib.closing(sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)) as db:
        return [request_id for request_id, subjects in db.execute("select request_id, subjects from requests")
                if subject_id in json.loads(subjects or "[]")]


class LedgerUnavailable(PrivacyError):
    """The ledger's file cannot be opened for reading and writing (permissions, a read-only or full volume)."""


class NotOpen(PrivacyError):
    """A step by hand that does not fit the request's state (answered already, extended twice, too late)."""


class Ledger:
    """Requests with status, due date and result (Art. 12(3), 5(2)); ``index``: the blind indexes."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.exists():
            private_dir(self.path.parent)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._db.row_factory = sqlite3.Row
            self._db.executescript(_SCHEMA)
            self._upgrade()
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(sqlite_problem("the request ledger", self.path, exc)) from None
        self.index = BlindIndex(self._db)

    def _upgrade(self) -> None:
        """A ledger from before rejected documents awaited an answer by hand counted them answered
        at their rejection: one whose month has passed is taken to be answered (and says so); a
        recent one is open again, due a month after its receipt."""
        now = datetime.now(timezone.utc)
        for row in self._db.execute("select request_id, received_at from requests where status = 'rejected' "
                                    "and completed_at is not null").fetchall():
            due = months_after(datetime.fromisoformat(row["received_at"]), 1)
            if due < now:
                self._db.execute("update requests set status = 'answered', detail = json_set(detail, "
                                 "'$.answered', 'assumed when the ledger was upgraded') where request_id = ?",
                                 (row["request_id"],))
            else:
                self._db.execute("update requests set completed_at = null, due_at = ? where request_id = ?",
                                 (timestamp(due), row["request_id"]))

    def register(self, request: Request, identifier_hmac: str) -> bool:
        """Record a new request as ``received``; False if its id is known already (idempotent)."""
        return self._db.execute(
            "insert or ignore into requests (request_id, type, status, identifier_kind, identifier_hmac, "
            "verification, received_at, due_at, detail) values (?, ?, 'received', ?, ?, ?, ?, ?, ?)",
            (request.request_id, request.type, request.identifier_kind, identifier_hmac, request.verification,
             timestamp(request.received_at), timestamp(request.due_at),
             json.dumps({k: v for k, v in (("field", request.field), ("purpose", request.purpose),
                                           ("language", request.language)) if v}))
        ).rowcount == 1

    def reject(self, request_id: str, reason: str, *, received: datetime, now: datetime) -> None:
        """Record a document that is not a valid request (reason: field names only, no values). It
        stays open until the operator records the answer given by hand (``answered``): the
        requester is owed the reason within a month of receipt (Art. 12(3), 12(4)). The same
        document sent again after that answer is open again, from its new receipt. ``now``, when
        it came in, is kept: a document stating an old receipt is still kept for its rule's period."""
        self._db.execute(
            "insert into requests (request_id, type, status, received_at, due_at, detail) values "
            "(?, 'invalid', 'rejected', ?, ?, ?) on conflict (request_id) do update set status = 'rejected', "
            "received_at = excluded.received_at, due_at = excluded.due_at, completed_at = null, "
            "detail = excluded.detail where requests.status = 'answered'",
            (request_id, timestamp(received), timestamp(months_after(received, 1)),
             json.dumps({"reason": reason, "registered_at": timestamp(now)})))

    def answered(self, request_id: str, *, now: datetime) -> None:
        """Record that a rejected document was answered by hand (Art. 12(4))."""
        row = self._open(request_id)
        if row["status"] != "rejected":
            raise NotOpen(f"request {request_id} is {row['status']}: only a rejected document is answered by hand; "
                          "the others are answered by `klantkluis process-requests`")
        self._db.execute("update requests set status = 'answered', completed_at = ? where request_id = ?",
                         (timestamp(now), request_id))

    def extend(self, request_id: str, reason: str, *, now: datetime) -> dict:
        """Extend an open request's deadline by two further months (Art. 12(3)): once, and only
        while the first month runs, since the requester must be told within it. The updated row."""
        if reason not in EXTENSION_REASONS:
            raise NotOpen(f"the reason must be one of {', '.join(EXTENSION_REASONS)} (Art. 12(3))")
        row = self._open(request_id)
        detail = json.loads(row["detail"] or "{}")
        if row["status"] == "rejected":
            raise NotOpen(f"request {request_id} is a document we could not process: its sender is owed the reason "
                          "within the month (Art. 12(4)), which cannot be extended; answer by hand, then record it")
        if "extension" in detail:
            raise NotOpen(f"request {request_id} was extended already on {local_date(detail['extension']['at'])}; "
                          "Art. 12(3) allows one extension of two months")
        if timestamp(now) > row["due_at"]:
            raise NotOpen(f"request {request_id} was due on {local_date(row['due_at'])}: an extension must be made, and "
                          "the requester told, within the first month (Art. 12(3)); answer it now")
        due = months_after(datetime.fromisoformat(row["due_at"]), 2)
        detail["extension"] = {"at": timestamp(now), "reason": reason, "first_due_at": row["due_at"]}
        self._db.execute("update requests set due_at = ?, detail = ? where request_id = ?",
                         (timestamp(due), json.dumps(detail), request_id))
        return self.get(request_id)

    def _open(self, request_id: str) -> dict:
        row = self.get(request_id)
        if row is None:
            raise NotOpen(f"no request {request_id} in the ledger; `klantkluis requests` lists them")
        if row["status"] in ANSWERED:
            done = f" (on {local_date(row['completed_at'])})" if row["completed_at"] else ""
            raise NotOpen(f"request {request_id} is {row['status']} already{done}")
        return row

    def claim(self, request_id: str, *, now: datetime) -> bool:
        """Mark a request ``processing``; False if it is done or another process is on it."""
        stale = timestamp(now - STALE)
        return self._db.execute(
            "update requests set status = 'processing', started_at = ? where request_id = ? and "
            "(status in ('received', 'failed') or (status = 'processing' and started_at < ?))",
            (timestamp(now), request_id, stale)).rowcount == 1

    def complete(self, request_id: str, *, subjects: list[str], result_path: str | None, detail: dict,
                 now: datetime, status: str = "completed") -> None:
        row = self.get(request_id)
        merged = {**json.loads(row["detail"] if row else "{}"), **detail}
        self._db.execute("update requests set status = ?, subjects = ?, result_path = ?, detail = ?, completed_at = ? "
                         "where request_id = ?", (status, json.dumps(sorted(subjects)), result_path,
                                                  json.dumps(merged, default=str), timestamp(now), request_id))

    def release(self, request_id: str) -> None:
        """Hand a claimed request back (e.g. the warehouse was busy): it will be picked up again."""
        self._db.execute("update requests set status = 'received', started_at = null where request_id = ? "
                         "and status = 'processing'", (request_id,))

    def update_detail(self, request_id: str, detail: dict) -> None:
        """Merge ``detail`` into the request's detail, e.g. an erasure's first phase before its purge."""
        row = self.get(request_id)
        merged = {**json.loads(row["detail"] if row else "{}"), **detail}
        self._db.execute("update requests set detail = ? where request_id = ?", (json.dumps(merged, default=str), request_id))

    def forget(self, request_id: str) -> None:
        """Delete a request's record once its retention ends (Art. 5(1)(e); secure_delete is on)."""
        self._db.execute("delete from requests where request_id = ?", (request_id,))

    def fail(self, request_id: str, error: str, *, now: datetime) -> None:
        """Record a failed attempt; ``error`` is an exception class name or a value-free message."""
        self._db.execute("update requests set status = 'failed', completed_at = ?, "
                         "detail = json_set(detail, '$.error', ?) where request_id = ?", (timestamp(now), error, request_id))

    def get(self, request_id: str) -> dict | None:
        row = self._db.execute("select * from requests where request_id = ?", (request_id,)).fetchone()
        return dict(row) if row else None

    def rows(self, status: str | None = None) -> list[dict]:
        sql, args = "select * from requests", ()
        if status:
            sql, args = sql + " where status = ?", (status,)
        return [dict(r) for r in self._db.execute(sql + " order by received_at, request_id", args)]

    def unanswered(self, now: datetime) -> tuple[list[dict], list[dict]]:
        """(open, overdue): the requests not answered yet, rejected documents awaiting an answer by
        hand among them, oldest first; and those of them past their due date (Art. 12(3))."""
        open_ = [r for r in self.rows() if r["status"] not in ANSWERED]
        return open_, [r for r in open_ if r["due_at"] < timestamp(now)]

    def results_for(self, subject_ids: list[str], request_type: str) -> list[dict]:
        """Completed requests of ``request_type`` about any of ``subject_ids`` (e.g. earlier exports)."""
        wanted = set(subject_ids)
        return [r for r in self.rows("completed") if r["type"] == request_type and wanted & set(json.loads(r["subjects"]))]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
