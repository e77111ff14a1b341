"""One handler per request type: (service, request, now) -> (result path, detail for the ledger).

The access export (Art. 15, 20) is here; erasure, rectification and consent live in their own modules. The
detail returned holds counts, times and pseudonymous ids (under ``subject_ids``, moved to the
ledger's own column), never values.
"""

import time
from datetime import datetime

from orchestration.requests.changes import consent, rectification
from orchestration.requests.erasure import erased_before, erasure
from orchestration.requests.indexes import name_hmacs, refresh
from privacy.audit import timestamp
from privacy.rights import summary, texts
from privacy.rights.access import collect, derived_views
from privacy.rights.disclosure import art15_information
from privacy.rights.letter import write_letter
from privacy.rights.names import persons_in
from privacy.rights.package import access_files, write_zip
from privacy.rights.requests import Request


class ThirdPersons:
    """``Redactor.redact_others`` given only the known persons that occur in the texts, found via
    the blind name index (Art. 15(4)): no list of every customer's name is loaded."""

    def __init__(self, service):
        self.service, self._fresh = service, False

    def __call__(self, texts: list[str], keep: set[str]) -> list[str]:
        from privacy.redact import Redactor  # spaCy and Presidio load only for a subject with free text

        if not self._fresh:
            refresh(self.service)
            self._fresh = True
        return Redactor(persons_in(texts, self._names, self._emails)).redact_others(texts, keep)

    def _names(self, kind: str, keys: set[str]) -> set[str]:
        keys = sorted(keys)
        hmacs = name_hmacs(self.service.pseudonymiser, [(kind, k) for k in keys])
        found = self.service.ledger.index.known("name_index", set(hmacs))
        return {k for k, h in zip(keys, hmacs) if h in found}

    def _emails(self, addresses: set[str]) -> set[str]:
        addresses = sorted(addresses)
        hmacs = self.service.pseudonymiser.lookup_hmacs(addresses)
        found = self.service.ledger.index.known("email_index", set(hmacs))
        return {a for a, h in zip(addresses, hmacs) if h in found}


def access(service, request: Request, now: datetime) -> tuple[str, dict]:
    """The Art. 15 / Art. 20 export: one zip in the outbox with data, information and checksums."""
    started = time.perf_counter()
    ids = [s for _, s in service.subjects(request, now)]
    datasets, views = [], []
    if ids and service.paths.warehouse.exists():
        with service.warehouse(read_only=True) as con:
            datasets = collect(con, ids, classification=service.classification, keystore=service.keystore,
                               audit=service.audit, redact_others=ThirdPersons(service),
                               actor=f"request:{request.request_id}", now=now)
            views = derived_views(con)
    metadata = art15_information(datasets, service.classification, service.policy,
                                 request_id=request.request_id, now=now, views=views,
                                 erased=(erased := erased_before(service, ids, now) if ids and not datasets else None))
    metadata["request"] = {"type": request.type, "received_at": timestamp(request.received_at),
                           "due_at": timestamp(request.due_at), "language": request.language,
                           "identity_verified_by": request.verification}
    files = access_files(datasets, metadata)
    path = service.paths.outbox / f"{request.request_id}.zip"
    sha = write_zip(path, files, now=now)
    page = summary.FILES[request.language]
    write_letter(path, {"request_id": request.request_id, "type": request.type, "received_at": timestamp(request.received_at),
                        "language": request.language, "explanation": texts.both(tuple(
                            t.format(file=path.name, page=page)
                            for t in (texts.ACCESS_SENT if datasets else texts.ACCESS_SENT_NO_DATA)))},
                 service.policy.controller, now)
    rows = {d.name: len(d.rows) for d in datasets}
    service.audit.append("access_export", actor=f"request:{request.request_id}", now=now,
                         request_id=request.request_id, subjects=len(ids),
                         datasets=len(datasets), rows=sum(rows.values()), files=len(files), sha256=sha)
    # found: data held, or erased by us (the subject is told when, and what stays), as the page says
    return str(path), {"subject_ids": ids, "found": any(rows.values()) or erased is not None,
                       "datasets": len(datasets), "rows": rows,
                       "files": len(files),
                       "sha256": sha, "export_seconds": round(time.perf_counter() - started, 3)}


HANDLERS = {"access": access, "erasure": erasure, "rectification": rectification,
            "objection": consent, "withdraw_consent": consent}
