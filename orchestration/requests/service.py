"""The request service: ledger, keys and audit of one installation; dispatch to a handler.

Idempotent by request id: a completed request is never processed again and returns its earlier
result. The inbox file is the only place the identifier lives in plain text; it is deleted once
the request is answered (Art. 5(1)(c), (e)). Log lines, Dagster metadata and exception messages
carry request ids, counts and class names only (Art. 5(1)(f)).
"""

import json
import mmap
import os
import re
import time
import traceback
from collections import Counter
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from orchestration.ingest.context import IngestContext
from orchestration.compaction import compact_if_due_now
from orchestration.ingest.encrypt_plain import encrypt_plain
from orchestration.ingest.schema import plain_columns
from orchestration.requests.common import JOBS, MASTER_TABLES, Outcome, Refused, parse_rules, receipt, write_receipt
from orchestration.requests.file_retention import EXTENSION_NOTICE, export_path, remove_expired
from orchestration.requests.inbox import inbox_files, intake
from orchestration.settings import DBT_PROJECT_DIR, Paths, WarehouseBusy, connect_duckdb
from privacy.audit import timestamp
from privacy.classification import load_classification
from privacy.keystore import KeyStore
from privacy.masterkey import master_key_from_env
from privacy.policy import load_policy
from privacy.pseudonym import pseudonymiser_from_env
from privacy.rights import texts
from privacy.rights.ledger import ANSWERED, Ledger, NotOpen
from privacy.rights.letter import write_letter
from privacy.rights.package import write_json
from privacy.rights.purge import overwritten_when_replaced
from privacy.rights.readable import dated
from privacy.rights.requests import InvalidRequest, Request, local_date, parse_request
from privacy.rights.warehouse import column_types, recorded

NAME_FIELDS = frozenset({"first_name", "last_name"})  # a customer's and a lead's, compared to tell them apart
SHARED_ADDRESS = ("Dit e-mailadres hoort bij meer dan één klant of contactpersoon. Stuur uw verzoek opnieuw met uw "
                  "klantnummer, of neem contact met ons op, zodat wij zeker weten dat het om uw gegevens gaat.",
                  "This e-mail address belongs to more than one customer or contact. Please send your request again "
                  "with your customer number, or contact us, so we know for sure that it is about your data.")

__all__ = ["JOBS", "MASTER_TABLES", "Outcome", "Refused", "RequestFailed", "RequestService", "WarehouseBusy",
           "parse_rules"]


class RequestFailed(Exception):
    """A request could not be answered; the message names the error class and place, no values
    (see ``_failure``)."""


def _failure(exc: Exception) -> str:
    """What is said of a failed request: the error's class and place, and for a file system error
    (an outbox this account cannot write to, say) the folder and the fix. Never the error's message,
    which may quote a value, nor a file's name: an inbox document's may be its sender's address."""
    where = traceback.extract_tb(exc.__traceback__)[-1]
    error = f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno}"
    if isinstance(exc, OSError) and isinstance(exc.filename, (str, bytes, os.PathLike)):
        path = Path(os.fsdecode(exc.filename))
        folder = path if os.path.isdir(path) else path.parent  # isdir: False, not an error, where stat is refused
        error += f" on {folder}" + (f" ({exc.strerror})" if exc.strerror else "")
        if isinstance(exc, PermissionError):
            error += (": give the account that runs klantkluis write access to it, then `klantkluis process-requests` "
                      "answers it")
    return error


class RequestService:
    """Request handling for one installation (``Paths``); use as a context manager."""

    def __init__(self, paths: Paths):
        env = {**os.environ, **paths.environment()}
        self.paths, self.audit = paths, paths.audit()
        self.pseudonymiser = pseudonymiser_from_env(env)
        self.keystore = KeyStore(paths.keystore, master_key_from_env(env), audit=self.audit)
        self.ledger = Ledger(paths.state / "requests.sqlite")
        self.policy, self.classification = load_policy(), load_classification(DBT_PROJECT_DIR)
        self.rules = parse_rules(self.classification, self.policy)
        self._encrypted = False  # plain columns of an older warehouse: encrypted on first use

    def close(self) -> None:
        self.keystore.close()
        self.ledger.close()

    def __enter__(self) -> "RequestService":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def parse(self, raw: bytes, registered: bool = False) -> Request:
        """``registered``: the ledger holds it as a request already (see ``parse_request``)."""
        return parse_request(raw, registered=registered, **self.rules)

    def intake(self, now: datetime | None = None) -> list[Request]:
        """Register new inbox files; the requests still to be answered (see ``inbox.intake``)."""
        return intake(self, now or datetime.now(timezone.utc))

    def remove_expired(self, now: datetime | None = None) -> dict[str, int]:
        """Remove rejected documents, access exports and request records past their retention rule
        (``file_retention``); rule -> how many."""
        return remove_expired(self, now or datetime.now(timezone.utc))

    def identifier_hmac(self, request: Request) -> str:
        """The keyed HMAC stored instead of the identifier (Art. 4(5), 25(1))."""
        if request.identifier_kind == "email":
            return self.pseudonymiser.lookup_hmac(request.identifier)
        return self.pseudonymiser.subject_id(request.subject_kind, request.identifier)

    def process(self, request_id: str, now: datetime | None = None) -> Outcome:
        """Answer one request; a completed one returns its earlier result (idempotent)."""
        from orchestration.requests.handlers import HANDLERS

        now = now or datetime.now(timezone.utc)
        self.intake(now)
        row = self.ledger.get(request_id)
        if row is None:
            raise KeyError(f"unknown request {request_id}")
        if row["status"] in ANSWERED or not self.ledger.claim(request_id, now=now):
            return Outcome(request_id, row["type"], row["status"], row["result_path"], json.loads(row["detail"]))
        found = inbox_files(self.paths.inbox).get(request_id)
        if found is None:
            self.ledger.fail(request_id, "the request file is no longer in the inbox", now=now)
            return Outcome(request_id, row["type"], "failed")
        (path, raw), started, status = found, time.perf_counter(), "completed"
        request = self.parse(raw, registered=True)
        if "extension" in json.loads(row["detail"]):
            request = replace(request, extended_due_at=datetime.fromisoformat(row["due_at"]))
        try:
            result_path, detail = HANDLERS[request.type](self, request, now)
        except WarehouseBusy:
            self.ledger.release(request_id)
            raise
        except Refused as exc:
            status, detail = "refused", {"reason": str(exc)}
            result_path = write_receipt(self, receipt(request, now, "Art. 12(4) GDPR", refused=str(exc),
                                                                   explanation=texts.both(exc.plain)))
        except Exception as exc:
            # A message may quote a value (a database error about a bad value, say): only the class,
            # the place (and a folder) go to the ledger, the audit log and, raised, to Dagster's logs.
            error = _failure(exc)
            self.ledger.fail(request_id, error, now=now)
            self.audit.append("request_failed", now=now, request_id=request_id, error=error)
            raise RequestFailed(f"request {request_id} failed: {error}") from None
        detail["seconds"] = round(time.perf_counter() - started, 3)
        subjects = detail.pop("subject_ids", [])
        self.ledger.complete(request_id, subjects=subjects, result_path=result_path, detail=detail, now=now, status=status)
        self.audit.append("request_completed", now=now, request_id=request_id, type=request.type, status=status,
                          subjects=len(subjects), seconds=detail["seconds"])
        self.discard(path)
        return Outcome(request_id, request.type, status, result_path, detail)

    def extend(self, request_id: str, reason: str, now: datetime | None = None) -> Path:
        """Extend an open request's deadline by two months (Art. 12(3)) and write the notice the
        requester must have within the first month, with the reason: ``outbox/<id>.extension.json``
        (dates and the reason, no personal values). ``NotOpen`` when the ledger refuses it."""
        now = now or datetime.now(timezone.utc)
        if self.ledger.get(request_id) is None:
            self.intake(now)  # a request still in the inbox is registered first
        row = self.ledger.extend(request_id, reason, now=now)
        first_due = json.loads(row["detail"])["extension"]["first_due_at"]
        why = tuple(text.replace("{reason}", said) for text, said in zip(texts.EXTENDED, texts.EXTENSION_REASONS[reason]))
        explanation = texts.both(dated(why, received=local_date(row["received_at"]), due=local_date(row["due_at"])))
        notice = {"request_id": request_id, "type": row["type"], "article": "Art. 12(3) GDPR",
                  "received_at": row["received_at"], "first_due_at": first_due, "due_at": row["due_at"], "reason": reason,
                  "language": json.loads(row["detail"]).get("language") or self._language(request_id),
                  "explanation": explanation, "your_rights": {"complaint": texts.both(texts.COMPLAINT)}}
        path = write_json(self.paths.outbox / f"{request_id}{EXTENSION_NOTICE}", notice)
        write_letter(path, notice, self.policy.controller, now)
        self.audit.append("request_extended", now=now, request_id=request_id, reason=reason, due_at=row["due_at"])
        return path

    def _language(self, request_id: str) -> str:
        """The language of an open request whose ledger row does not say it (registered by a version
        before the ledger kept it): its document's, still in the inbox; else the default."""
        found = inbox_files(self.paths.inbox).get(request_id)
        if found and isinstance(found[1], bytes):
            try:
                return self.parse(found[1], registered=True).language
            except InvalidRequest:
                pass
        return texts.LANGUAGES[0]

    def answered(self, request_id: str, now: datetime | None = None) -> None:
        """Record that a rejected document was answered by hand (Art. 12(4)): the request is done,
        and its document goes when the rule ``rejected_requests`` ends."""
        now = now or datetime.now(timezone.utc)
        self.ledger.answered(request_id, now=now)
        self.audit.append("request_answered_by_hand", now=now, request_id=request_id)

    def delivered(self, request_id: str, now: datetime | None = None) -> None:
        """Record that an access export reached its requester and remove it from the outbox now,
        before its rule ``access_exports`` would (Art. 5(1)(c), (e)): it was kept only to deliver
        it. NotOpen when the request has no export in the outbox."""
        now = now or datetime.now(timezone.utc)
        row = self.ledger.get(request_id)
        if row is None or row["type"] != "access" or row["status"] != "completed" or not row["result_path"]:
            raise NotOpen(f"{request_id} is no answered access request with an export")
        export = export_path(self.paths, row)
        if not export.exists():
            raise NotOpen(f"the export of {request_id} is no longer in the outbox (`klantkluis requests` says when "
                          "and why it went)")
        self.discard(export)
        self.ledger.update_detail(request_id, {"removed": {"at": timestamp(now), "rule": "delivered"}})
        self.audit.append("access_export_delivered", now=now, request_id=request_id)

    def subjects(self, request: Request, now: datetime) -> list[tuple[str, str]]:
        """(kind, subject_id) of the requester: by number at once (a customer with the lead that is
        the customer themselves), by e-mail through the blind index and the address the subject's
        record holds now."""
        if request.subject_kind:
            found = [(request.subject_kind, self.pseudonymiser.subject_id(request.subject_kind, request.identifier))]
            return found + (self._own_leads(found[0][1], request, now) if request.subject_kind == "customer" else [])
        from orchestration.requests.indexes import refresh

        refresh(self)
        wanted = self.pseudonymiser.lookup_hmac(request.identifier)
        found = self.ledger.index.subjects_for_email(wanted)
        gone = self.keystore.shredded([s for _, s in found])
        found = [(k, s) for k, s in found if s not in gone]
        if found and self.paths.warehouse.exists():
            with self.warehouse(read_only=True) as con:
                if len(found) > 1:  # the index keeps records the sweep has removed
                    held = set(recorded(con, [s for _, s in found]))
                    found = [(k, s) for k, s in found if s in held]
                holds = {(k, s): self._holds_address(con, k, s, wanted, request, now) for k, s in found}
                found = [subject for subject, held in holds.items() if held]
                if sorted(k for k, _ in found) == ["customer", "lead"] and not self._one_person(con, found, request, now):
                    raise Refused("the e-mail address matches a customer and a lead record not shown to be one "
                                  "person (other names, no names, or a record not loaded yet)", SHARED_ADDRESS)
            if not found and None in holds.values():
                # Only a record without its contact details (removed after its period, or quarantined)
                # had this address once: it may be someone else's by now (Art. 5(1)(f), 12(6)).
                raise Refused("the e-mail address belongs to no current record; a record without contact details "
                              "had it once", texts.UNCONFIRMED_ADDRESS)
        if twice := sorted(k for k, n in Counter(k for k, _ in found).items() if n > 1):
            # Two customers (or two leads) with one address, a household say: answering would give one
            # person another's data, or erase it (Art. 5(1)(f), 15(4)). One customer and one lead of one
            # name are taken to be one person, as a lead who became a customer is.
            raise Refused(f"the e-mail address matches more than one {' and '.join(twice)} record", SHARED_ADDRESS)
        return found

    def known(self, subject_ids: list[str], request: Request) -> list[str]:
        """The subjects among ``subject_ids`` this installation holds anything of: a live data key,
        a row in the raw layer, an address in a landing file, or, for a ``request`` by number, that
        number in a current landing file (a record not loaded yet, quarantined, or without an
        address). A number nobody has finds none: erasing it anyway would leave a tombstone that
        suppresses whoever is given that number later, as if they had been erased (Art. 5(1)(d), 17)."""
        from orchestration.requests.indexes import refresh

        refresh(self)
        held = {s for s in subject_ids if self.keystore.has(s)} | self.ledger.index.holding(subject_ids)
        if self.paths.warehouse.exists():
            with self.warehouse(read_only=True) as con:
                held.update(recorded(con, subject_ids))
        numbered = self.pseudonymiser.subject_id(request.subject_kind, request.identifier) if request.subject_kind else None
        if numbered in set(subject_ids) - held and self._in_landing_files(request.identifier):
            held.add(numbered)
        return [s for s in subject_ids if s in held]

    def _in_landing_files(self, number: str) -> bool:
        """Whether a current landing file holds ``number`` as a whole value; searched as bytes, so
        in any source and text format (not inside a compressed Parquet page)."""
        from expectations.suites import SOURCES
        from orchestration.ingest.sources import source_files

        needle, word = number.encode(), re.compile(rb"[A-Za-z0-9._:/-]")
        for path in (p for source in SOURCES for p in source_files(self.paths, source)):
            if not path.stat().st_size:
                continue
            with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as text:
                at = text.find(needle)
                while at >= 0:
                    before, after = text[at - 1:at] if at else b"", text[at + len(needle):at + len(needle) + 1]
                    if not word.fullmatch(before or b" ") and not word.fullmatch(after or b" "):
                        return True
                    at = text.find(needle, at + 1)
        return False

    def _own_leads(self, customer: str, request: Request, now: datetime) -> list[tuple[str, str]]:
        """The leads that are the customer themselves (a lead who became a customer): a lead record
        holding the address and the name the customer's record holds now, so that a request by
        customer number covers them as one by e-mail does (Art. 15, 17, 21)."""
        from orchestration.requests.changes import latest_row
        from orchestration.requests.indexes import EMAIL, refresh

        if not self.paths.warehouse.exists():
            return []
        with self.warehouse(read_only=True) as con:
            table = self.classification.table(MASTER_TABLES["customer"], "source")
            row = latest_row(self, con, table, customer, {EMAIL},
                             "finding the lead record of the customer who made the request (Art. 12(6), 15)",
                             f"request:{request.request_id}", now) if column_types(con, "raw", table.name) else None
            if not row or not row.get(EMAIL):
                return []
            refresh(self)
            wanted = self.pseudonymiser.lookup_hmac(row[EMAIL])
            leads = [(k, s) for k, s in self.ledger.index.subjects_for_email(wanted) if k == "lead"]
            loaded = set(recorded(con, [s for _, s in leads])) if leads else set()  # a record to compare names with
            return [(k, s) for k, s in leads if s in loaded and self._holds_address(con, k, s, wanted, request, now)
                    and self._one_person(con, [("customer", customer), (k, s)], request, now)]

    def _one_person(self, con, found: list[tuple[str, str]], request: Request, now: datetime) -> bool:
        """Whether the customer and the lead with one address bear one name (a lead who became a
        customer); otherwise (other names, no names, or a record not loaded yet to ask) they may be
        two people sharing an address, and answering for both would give one the other's data, or
        erase it (Art. 5(1)(f), 15(4)). Decrypts the two names only (audited)."""
        from orchestration.requests.changes import latest_row

        names = []
        for kind, subject_id in found:
            table = self.classification.table(MASTER_TABLES[kind], "source")
            row = latest_row(self, con, table, subject_id, NAME_FIELDS, "identifying the requester (Art. 12(6))",
                             f"request:{request.request_id}", now) if column_types(con, "raw", table.name) else None
            if row is None:  # only in a landing file, not loaded yet: nothing to compare, so not one person
                return False
            names.append(" ".join(" ".join(str(row.get(f) or "") for f in sorted(NAME_FIELDS)).casefold().split()))
        return names[0] == names[1] != ""  # no name on both is no proof of one person

    def _holds_address(self, con, kind: str, subject_id: str, wanted: str, request: Request,
                       now: datetime) -> bool | None:
        """Whether the subject's record holds the requested address now; None when the raw layer
        holds rows of theirs but no record to ask (removed after its period while their orders
        stay, or quarantined). The index keeps every address a subject ever had; an old or corrected one may
        be someone else's by now, who must not get this subject's data nor erase it (Art. 5(1)(f),
        12(6)). Decrypts that one field (audited)."""
        from orchestration.requests.changes import latest_row
        from orchestration.requests.indexes import EMAIL

        table = self.classification.table(MASTER_TABLES[kind], "source")
        row = latest_row(self, con, table, subject_id, {EMAIL}, "identifying the requester (Art. 12(6))",
                         f"request:{request.request_id}", now) if column_types(con, "raw", table.name) else None
        if row is None:  # no rows at all (nothing to give away), or a current export holds it: the index stands
            return None if recorded(con, [subject_id]) and not self._in_landing(wanted, subject_id) else True
        return row.get(EMAIL) is not None and self.pseudonymiser.lookup_hmac(row[EMAIL]) == wanted

    def _in_landing(self, wanted: str, subject_id: str) -> bool:
        """Whether a landing file still there gave the subject this address: the source system's
        current export (its record not loaded yet, or quarantined), not one removed long ago."""
        from orchestration.ingest.sources import source_files

        files = self.ledger.index.files_for(wanted, subject_id)
        return any((source, p.name) in files for source in {s for s, _ in files} if source in MASTER_TABLES.values()
                   for p in source_files(self.paths, source))

    def ingest_context(self, now: datetime) -> IngestContext:
        """The raw-layer writer's context, sharing this service's keys and audit log."""
        return IngestContext(self.paths, now, self.keystore, self.pseudonymiser, self.audit)

    @contextmanager
    def warehouse(self, read_only: bool = False):
        """A warehouse connection, or WarehouseBusy while another process holds it. The first one
        of this service encrypts the columns an older version stored as plain text (see
        orchestration.ingest.encrypt_plain), so a request never meets them."""
        if not self._encrypted:
            sources = [t for t in self.classification if t.layer == "source" and t.subject]
            with closing(connect_duckdb(self.paths.warehouse, read_only=True)) as con:  # no write lock if none
                plain = any(plain_columns(con, t) for t in sources)
            if plain:
                with closing(connect_duckdb(self.paths.warehouse)) as con:
                    encrypt_plain(con, sources, self.paths, self.keystore, self.audit, datetime.now(timezone.utc))
            compact_if_due_now(self.paths)
            self._encrypted = True
        con = connect_duckdb(self.paths.warehouse, read_only=read_only)  # within the memory budget
        try:
            yield con
        finally:
            con.close()

    def discard(self, path: Path) -> None:
        """Remove a file holding plain personal data, overwriting its bytes first."""
        with overwritten_when_replaced([path]):
            path.unlink(missing_ok=True)
