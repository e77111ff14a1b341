"""One handler per request type: (service, request, now) -> (result path, detail for the ledger).

The access export is here; erasure, rectification and consent live in their own modules. The
detail returned holds counts, times and pseudonymous ids (under ``subject_ids``, moved to the
ledger's own column), never values.
"""

import time
from datetime import datetime

from orchestration.ingest.known_persons import known_persons
from orchestration.requests.changes import consent, rectification
from orchestration.requests.erasure import erasure
from privacy.audit import timestamp
from privacy.rights.access import collect
from privacy.rights.disclosure import art15_information
from privacy.rights.package import access_files, write_zip
from privacy.rights.requests import Request


class LazyRedactor:
    """``Redactor.redact_others`` built on first use: most exports of a subject without free text
    never pay for loading every known person (Art. 15(4): third persons are redacted)."""

    def __init__(self, paths):
        self.paths, self._redactor = paths, None

    def __call__(self, texts: list[str], keep: set[str]) -> list[str]:
        if self._redactor is None:
            from privacy.redact import Redactor

            self._redactor = Redactor(known_persons(self.paths))
        return self._redactor.redact_others(texts, keep)


def access(service, request: Request, now: datetime) -> tuple[str, dict]:
    """The Art. 15 / Art. 20 export: one zip in the outbox with data, information and checksums."""
    started = time.perf_counter()
    ids = [s for _, s in service.subjects(request)]
    datasets = []
    if ids and service.paths.warehouse.exists():
        with service.warehouse(read_only=True) as con:
            datasets = collect(con, ids, classification=service.classification, keystore=service.keystore,
                               audit=service.audit, redact_others=LazyRedactor(service.paths),
                               actor=f"request:{request.request_id}", now=now)
    metadata = art15_information(datasets, service.classification, service.policy,
                                 request_id=request.request_id, now=now)
    metadata["request"] = {"type": request.type, "received_at": timestamp(request.received_at),
                           "due_at": timestamp(request.due_at), "language": request.language,
                           "identity_verified_by": request.verification}
    files = access_files(datasets, metadata)
    path = service.paths.outbox / f"{request.request_id}.zip"
    sha = write_zip(path, files, now=now)
    rows = {d.name: len(d.rows) for d in datasets}
    service.audit.append("access_export", now=now, request_id=request.request_id, subjects=len(ids),
                         datasets=len(datasets), rows=sum(rows.values()), files=len(files), sha256=sha)
    return str(path), {"subject_ids": ids, "datasets": len(datasets), "rows": rows, "files": len(files),
                       "sha256": sha, "export_seconds": round(time.perf_counter() - started, 3)}


HANDLERS = {"access": access, "erasure": erasure, "rectification": rectification,
            "objection": consent, "withdraw_consent": consent}
