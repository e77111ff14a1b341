"""The inbox: request documents as files in ``<home>/inbox/``, dropped by hand or by the CLI.

A file's request id is the hash of its JSON content, so the same document dropped twice is one
request. Documents that are not valid requests move to ``inbox/rejected/`` (the operator answers
those by hand, Art. 12(4)) and are removed when the policy rule ``rejected_requests`` ends (see
``file_retention``); answered requests' files are removed by the service.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import time
from datetime import datetime, timezone
from pathlib import Path

from orchestration.requests.file_retention import REJECTED
from privacy.audit import timestamp
from privacy.exceptions import PrivacyError
from privacy.paths import private_dir, write_private
from privacy.rights.requests import LOCAL_TIME, InvalidRequest, request_id_for, stated_receipt


# Names of files that are being written or are an application's own: a download or copy in
# progress, an editor's lock or backup, a desktop's thumbnail cache.
_NOT_DOCUMENTS = re.compile(r"^(\.|~\$|#)|(~|\.part|\.crdownload|\.tmp|\.swp)$|^(thumbs\.db|desktop\.ini)$", re.I)
SETTLE = 60  # seconds a file other than JSON must be unchanged before it is taken: it may still be copied in


def documents(inbox: Path, now: float | None = None) -> list[Path]:
    """The request documents directly in the inbox: JSON (written whole, see ``write_request``) and
    any other file (a letter, a saved e-mail: a request too, to be answered by hand) that has not
    changed for ``SETTLE`` seconds; never a file being written or an application's own, nor a
    symbolic link (what it points to is not a document given to us: a key file, say)."""
    now = time.time() if now is None else now
    return sorted(p for p in inbox.iterdir() if p.is_file() and not p.is_symlink() and not _NOT_DOCUMENTS.search(p.name)
                  and (p.suffix == ".json" or now - p.stat().st_mtime >= SETTLE)) if _checked(inbox).is_dir() else []


def make_inbox(inbox: Path) -> Path:
    """Create the inbox (mode 0700: its documents name their senders), as every installation's
    `run` and UI do (``Paths.prepare_dagster_home``), so that a request copied to ``<home>/inbox``
    lands in the folder, not in a file of that name."""
    return private_dir(_checked(inbox))


def _checked(inbox: Path) -> Path:
    """The inbox; PrivacyError when a file has its name: a request copied there before the folder
    existed, never seen while its month runs (Art. 12(3))."""
    if inbox.exists() and not inbox.is_dir():
        raise PrivacyError(f"{inbox} is a file, not a folder, so no request there is seen; it may be a request "
                           f"itself: move it aside (`mv {inbox} {inbox}.json`), make the folder (`mkdir -m 700 "
                           f"{inbox}`), put it back inside (`mv {inbox}.json {inbox}/`), then run again")
    return inbox


class TooLarge(bytes):
    """The start of a document larger than ``MAX_DOCUMENT``: never a request (those are a few hundred
    bytes, or a few MiB with a scan), so it is not read whole; ``request_id`` comes from its whole
    content, read in chunks."""
    request_id: str


MAX_DOCUMENT = 16 << 20  # a request with a scanned identity document still fits


def inbox_files(inbox: Path) -> dict[str, tuple[Path, bytes | None]]:
    """Request id -> (file, content) for every document in the inbox (``documents``); the content
    is None for one this account cannot read, which is still a request to answer (Art. 12(3)), and
    a ``TooLarge`` for one over ``MAX_DOCUMENT`` (a letter with attachments: answered by hand)."""
    out = {}
    for path in documents(inbox):
        raw = _read(path)
        if raw is _GONE:
            continue
        if raw is None:
            out[_content_id(f"unreadable:{path.name}".encode())] = (path, None)
            continue
        if isinstance(raw, TooLarge):
            out[raw.request_id] = (path, raw)
            continue
        try:
            document = json.loads(raw)
            out[request_id_for(document) if isinstance(document, dict) else _content_id(raw)] = (path, raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            out[_content_id(raw)] = (path, raw)
    return out


_GONE = b"\0gone"  # a document taken meanwhile, or swapped for a link or something other than a file


def _read(path: Path) -> bytes | None:
    """The document's bytes; never through a link or from a pipe put there since ``documents`` looked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, IsADirectoryError):
        return _GONE
    except OSError as exc:
        return _GONE if exc.errno == errno.ELOOP else None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return _GONE
        try:
            raw = f.read(MAX_DOCUMENT + 1)
            if len(raw) <= MAX_DOCUMENT:
                return raw
            digest = hashlib.sha256(raw)  # a huge file costs one chunk of memory, not its size
            while chunk := f.read(MAX_DOCUMENT):
                digest.update(chunk)
        except OSError:
            return None
    large = TooLarge(raw[:4096])
    large.request_id = _id_of(digest)
    return large


def _content_id(raw: bytes) -> str:
    return _id_of(hashlib.sha256(raw))


def _id_of(digest) -> str:
    return "req-" + digest.hexdigest()[:20]


ERASING = ("erasure", "objection", "withdraw_consent")  # request types that may erase a subject's records


def intake(service, now: datetime) -> list:
    """Register new inbox files in the ledger (the Art. 12(3) clock runs from receipt); returns the
    requests still to be answered, oldest first; of those received at one moment, the ones that may
    erase (an erasure; an objection or withdrawal, which erases a lead) after the others."""
    pending = []
    for request_id, (path, raw) in inbox_files(service.paths.inbox).items():
        try:
            if raw is None:
                raise InvalidRequest("the document cannot be read by this service account: give it read access, "
                                     "then answer the requester")
            if isinstance(raw, TooLarge):
                raise InvalidRequest(f"the document is larger than {MAX_DOCUMENT >> 20} MiB, so it is no request "
                                     "document (a letter or e-mail with attachments?): answer the requester by hand")
            row = service.ledger.get(request_id)
            request = service.parse(raw, registered=row is not None and row["type"] != "invalid")
        except InvalidRequest as exc:
            try:
                received = arrival(path, raw or b"", now)
                folder = service.paths.inbox / REJECTED
                if folder.is_symlink():  # documents would be moved wherever it points
                    raise PrivacyError(f"{folder} is a symbolic link: make it a folder of its own (remove the "
                                       "link; the next intake creates the folder), then run again")
                folder.mkdir(mode=0o700, exist_ok=True)
                if not path.is_symlink():  # it may name its sender: readable by this account only, like the inbox
                    with contextlib.suppress(PermissionError):
                        os.chmod(path, 0o600)
                os.replace(path, folder / f"{request_id}{path.suffix or '.json'}")
            except FileNotFoundError:  # the sensor or another command took it first
                continue
            except PermissionError:  # it cannot be moved: registered where it is, its deadline tracked
                pass
            service.ledger.reject(request_id, str(exc), received=received, now=now)
            service.audit.append("request_rejected", now=now, request_id=request_id, reason=str(exc))
            continue
        if service.ledger.register(request, service.identifier_hmac(request)):
            service.audit.append("request_received", now=now, request_id=request_id, type=request.type,
                                 identifier_kind=request.identifier_kind, due_at=timestamp(request.due_at),
                                 verified_by=request.verification, filed_by=request.filed_by or "not stated")
        if service.ledger.get(request_id)["status"] in ("completed", "refused"):
            service.discard(path)  # the same document again: answered already
        else:
            pending.append(request)
    service.remove_expired(now)
    # Received at one moment ("send me my data, then delete it"): what may erase comes last, so the
    # access is answered first and its export kept for delivery (orchestration.requests.erasure).
    return sorted(pending, key=lambda r: (r.received_at, r.type in ERASING, r.request_id))


def arrival(path: Path, raw: bytes, now: datetime) -> datetime:
    """When a document that is not a valid request arrived: the earliest of the time it states, the
    file's time and now, so that its deadline is never later than the law's."""
    moments = [now, datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)]
    return min(moments + ([stated] if (stated := stated_receipt(raw)) else []))


def write_request(inbox: Path, document: dict) -> tuple[str, Path]:
    """Drop a request document into the inbox (mode 0600); returns its id and file."""
    document = {k: v for k, v in document.items() if v not in (None, "")}
    document.setdefault("received_at", datetime.now(LOCAL_TIME).isoformat(timespec="seconds"))
    request_id = request_id_for(document)
    make_inbox(inbox)
    path = inbox / f"{request_id}.json"
    write_private(path, json.dumps(document, ensure_ascii=False, indent=1))  # the sensor never sees half a file
    return request_id, path
