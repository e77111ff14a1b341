"""A data subject request as validated data: who asks what, when, and how we know it is them.

A request arrives as a JSON document (a file in the inbox, or written by the CLI). Its id is
derived from its content, so the same document dropped twice is one request (idempotent). The
answer is due one calendar month after receipt (GDPR Art. 12(3)); identity must have been
verified before anything is disclosed or changed (Art. 12(2), 12(6)). Error messages name the
field, never its value: they end up in logs (Art. 5(1)(f)).
"""

from __future__ import annotations

import calendar
import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from dataclasses import field as _field
from datetime import datetime, timedelta, timezone
from pathlib import PurePath
from zoneinfo import ZoneInfo

from privacy.exceptions import PrivacyError
from privacy.identifiers import EMAIL, KEY
from privacy.rights.texts import LANGUAGES

TYPES = ("access", "erasure", "rectification", "objection", "withdraw_consent")
IDENTIFIERS = {"email": None, "customer_id": "customer", "lead_id": "lead"}
VERIFICATION_METHODS = ("portal_login", "email_confirmation", "id_document", "phone_callback", "in_person",
                        "idin", "other")
LOCAL_TIME = ZoneInfo("Europe/Amsterdam")  # the controller's calendar; dbt's var time_zone must match
_FORMS = {"email": re.compile(EMAIL), "customer_id": re.compile(KEY), "lead_id": re.compile(KEY)}
_FILER = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # an account name; an e-mail address or free text is not taken
# A document's fields; another system's own field (a portal's ticket number) is left alone, but one
# that is a near miss of these is a typo whose value would be ignored (a Dutch letter for `langauge: en`).
FIELDS = ("type", *IDENTIFIERS, "received_at", "verification", "field", "value", "purpose", "language", "filed_by")


class InvalidRequest(PrivacyError):
    """A request document that cannot be processed; the message names fields, never values
    (Art. 5(1)(f))."""


@dataclass(frozen=True)
class Request:
    """One validated data subject request (Art. 12, 15-21). Identifier and corrected value are kept
    out of ``repr``."""

    request_id: str
    type: str
    identifier_kind: str
    received_at: datetime
    verification: str
    identifier: str = _field(repr=False)
    field: str | None = None
    value: str | None = _field(default=None, repr=False)
    purpose: str | None = None
    language: str = "nl"
    extended_due_at: datetime | None = None  # set from the ledger once the deadline is extended
    filed_by: str = ""  # who filed it and verified the identity: an operator's account, or a portal (Art. 5(2))

    @property
    def due_at(self) -> datetime:
        """One calendar month after receipt, or two more once extended (Art. 12(3))."""
        return self.extended_due_at or months_after(self.received_at, 1)

    @property
    def subject_kind(self) -> str | None:
        """``customer`` or ``lead`` when identified by number; ``None`` for an e-mail address."""
        return IDENTIFIERS[self.identifier_kind]


def months_after(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or that month's last day when shorter (31 January + 1 ->
    28/29 February), in UTC: the one-month deadline and its two-month extension (Art. 12(3)).
    Months are counted on the Dutch calendar: received 31 January 00:30 in Amsterdam (30 January
    in UTC) is due on 28 February, not on 1 March."""
    local = moment.astimezone(LOCAL_TIME)
    year, month = divmod(local.month - 1 + months, 12)
    year, month = local.year + year, month + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(timezone.utc)


def local_date(stored: str) -> str:
    """A stored (UTC) time as the date in the Netherlands, as the requester counts (2027-02-28)."""
    return datetime.fromisoformat(stored).astimezone(LOCAL_TIME).date().isoformat()


REQUEST_ID = re.compile(r"req-[0-9a-f]{20}")  # what request_id_for makes; a request's consent events load as <id>.csv


def is_request_batch(file: str) -> bool:
    """Whether a loaded file name is a request's consent events (<request id>.csv), which never lie
    in the landing zone."""
    return bool(REQUEST_ID.fullmatch(PurePath(file).stem))


def request_id_for(document: dict) -> str:
    """A stable id from the document's content (key order and spacing do not matter); who filed it
    is left out, so one request filed twice is one request."""
    canonical = json.dumps({k: v for k, v in document.items() if k != "filed_by"}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return "req-" + hashlib.sha256(canonical.encode()).hexdigest()[:20]


def parse_request(raw: bytes | str | dict, *, consent_purposes=(), fields=None, registered: bool = False) -> Request:
    """Validate a request document (Art. 12); ``InvalidRequest`` names what is wrong.

    ``consent_purposes``: purposes a withdrawal may name (besides ``all``); ``fields``: the
    fields a rectification may correct (None: any). ``registered``: the ledger holds the document
    as a request already (a version that did not refuse a near-miss field name may have registered
    it): such a field does not make it invalid after the fact, with its answer owed (Art. 12(3))."""
    try:
        doc = raw if isinstance(raw, dict) else json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("the request is not a JSON document") from None
    if not isinstance(doc, dict):
        raise InvalidRequest("the request must be a JSON object")
    for key in [] if registered else sorted(map(str, doc)):
        # a near miss of a field the document lacks: with `customer_id` given, a `customer` is another system's
        if key not in FIELDS and (near := difflib.get_close_matches(key, FIELDS, n=1, cutoff=0.8)) and near[0] not in doc:
            raise InvalidRequest(f"unknown field {key}: did you mean {near[0]}?")
    try:
        request_id = request_id_for(doc)
    except UnicodeEncodeError:  # a "\\udXXX" escape without its pair: JSON allows it, no text holds it
        raise InvalidRequest("the request holds an escape \\udXXX that is half of a character (a lone "
                             "UTF-16 surrogate), so it is no valid text") from None
    kind = _text(doc, "type")
    if kind not in TYPES:
        raise InvalidRequest(f"type must be one of {', '.join(TYPES)}")
    given = [k for k in IDENTIFIERS if doc.get(k) not in (None, "")]
    if len(given) != 1:
        raise InvalidRequest(f"give exactly one subject identifier: {', '.join(IDENTIFIERS)}")
    id_kind, identifier = given[0], _text(doc, given[0])
    if not _FORMS[id_kind].match(identifier):
        form = ("an e-mail address" if id_kind == "email" else "1 to 64 letters, digits and . _ : / -, starting "
                "with a letter or digit, such as C0000042 or L0000042")
        raise InvalidRequest(f"{id_kind} is not well-formed: give it as the landing files write it ({form})")
    verification = _text(doc, "verification")
    if verification not in VERIFICATION_METHODS:
        raise InvalidRequest(f"verification (how identity was verified, Art. 12(6)) must be one of "
                             f"{', '.join(VERIFICATION_METHODS)}")
    language = _text(doc, "language", "nl")
    if language not in LANGUAGES:
        raise InvalidRequest(f"language must be one of {', '.join(LANGUAGES)}")
    extra = {}
    if kind == "rectification":
        extra = {"field": _text(doc, "field"), "value": _text(doc, "value")}
        if not extra["value"] or (fields is not None and extra["field"] not in fields):
            raise InvalidRequest(f"a rectification needs field (one of {', '.join(sorted(fields or []))}) and value")
    if kind == "withdraw_consent":
        extra = {"purpose": _text(doc, "purpose")}
        if extra["purpose"] not in (*consent_purposes, "all"):
            raise InvalidRequest(f"purpose must be one of {', '.join((*consent_purposes, 'all'))}")
    return Request(request_id, kind, id_kind, _received(doc), verification, identifier,
                   language=language, filed_by=_filer(doc.get("filed_by")), **extra)


def _filer(value) -> str:
    """Who filed the request, for the audit log: an account or system name ("portal", "j.devries");
    anything else (an e-mail address, free text) is left out, never a reason to refuse the request."""
    return value.strip() if isinstance(value, str) and _FILER.fullmatch(value.strip()) else ""


def _text(doc: dict, key: str, default: str = "") -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise InvalidRequest(f"{key} must be a string")
    return value.strip()


def stated_receipt(raw: bytes) -> datetime | None:
    """The ``received_at`` of a document that is not a valid request, if it reads as a time: the
    month for the answer by hand (Art. 12(3), 12(4)) runs from receipt too. None otherwise."""
    try:
        return _received(json.loads(raw))
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError, OverflowError, InvalidRequest):
        return None


def _received(doc: dict) -> datetime:
    try:
        moment = datetime.fromisoformat(_text(doc, "received_at").replace("Z", "+00:00"))
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TIME)).astimezone(timezone.utc)
        months_after(moment, 3)  # the latest deadline it can have (Art. 12(3)) must be a time too
    except (ValueError, OverflowError):  # OverflowError: a time at the edge of the calendar, such as year 1
        raise InvalidRequest("received_at must be an ISO 8601 time, e.g. 2026-11-23T10:15:00+01:00") from None
    if moment > datetime.now(timezone.utc) + timedelta(days=1):
        raise InvalidRequest("received_at lies in the future")
    return moment
