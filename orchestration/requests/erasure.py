"""The erasure request (Art. 17): immediate part, physical purge, re-publication, receipt.

The immediate part (key shredded, rows deleted or anonymised, blind index removed, access
exports not delivered yet kept for delivery) is recorded in the ledger before the purge starts,
so a purge that has to wait for a running build resumes without repeating it and the receipt
still lists what was removed.
The purge runs at once, in the same job: the receipt states when it finished and how long it took.
"""

import json
import time
from dataclasses import asdict
from datetime import datetime, timedelta

from orchestration.compaction import compact_warehouse
from orchestration.requests.common import receipt, republish, write_receipt
from orchestration.requests.file_retention import export_path
from orchestration.ingest import landing_retention
from privacy.audit import timestamp
from privacy.rights import texts
from privacy.rights.erasure import Erasure, erase
from privacy.rights.ledger import ANSWERED
from privacy.rights.readable import dated
from privacy.rights.requests import Request, local_date
from privacy.rights.warehouse import recorded

def landing_days(policy) -> int | str:
    """The days a landing file is kept after its load (its rule), as the letters say it; "?" without the rule."""
    rule = policy.retention.get(landing_retention.RULE)
    return rule.duration_days if rule else "?"


def _sources_note(policy) -> tuple[str, str]:
    return tuple(t.format(days=landing_days(policy)) for t in texts.LANDING_FILES_KEPT)


def erase_now(service, request: Request, subject_ids: list[str], now: datetime) -> dict:
    """The immediate part, once per request: shred, delete/anonymise, forget, keep exports for delivery.

    What the deletions did is in the ledger before they commit (``erasure_pending``): a process
    stopped after the commit leaves rows gone and keys destroyed, and a second attempt would find
    nothing; it takes the first attempt's record instead (and writes its audit entry if the first
    could not), so the receipt says what was erased. Keys an earlier attempt destroyed are counted
    from the audit log."""
    detail = json.loads(service.ledger.get(request.request_id)["detail"])
    if (done := detail.get("erasure")) is not None:
        # a record from before these fields: none kept, none said to be delivered
        return {"exports_kept_for_delivery": [], "earlier_exports_delivered": [], **done}
    started, actor, pending = time.perf_counter(), f"request:{request.request_id}", detail.get("erasure_pending")
    first = detail.get("erasure_started")  # an earlier attempt, stopped: when it began
    if first is None:
        service.ledger.update_detail(request.request_id, {"erasure_started": timestamp(now),
                                                          "erasure_subjects": list(subject_ids)})

    if service.paths.warehouse.exists():
        with service.warehouse() as con:
            # The commit makes the erasure durable (write-ahead log); the checkpoint that would
            # follow on close is the purge's work, which rewrites the whole file anyway.
            con.execute("pragma disable_checkpoint_on_shutdown")
            if pending and not recorded(con, subject_ids):  # the first attempt committed, then stopped
                result = Erasure(**pending)
                # any time: a run's retention sweep that erased them for this request (``unfinished``)
                # dates its entry at the run's start, which may be before this request's first attempt
                if not any(e["actor"] == actor for e in service.audit.matching(events=["erasure"], mentioning=actor)):
                    service.audit.append("erasure", actor=actor, now=now, subjects=len(subject_ids),
                                         keys_shredded=result.keys_shredded, recorded_after_restart=True,
                                         removed={r["table"]: r["rows"] for r in result.removed},
                                         kept={k["table"]: k["rows"] for k in result.kept})
            else:
                result = erase(con, subject_ids, keystore=service.keystore, classification=service.classification,
                               policy=service.policy, audit=service.audit, actor=actor, now=now,
                               before_commit=lambda result: record_pending(service.ledger, request.request_id, result))
        removed, kept, shred_seconds, shredded = result.removed, result.kept, result.shred_seconds, result.keys_shredded
    else:
        removed, kept, shredded = [], [], sum(service.keystore.shred(s, now=now, actor=actor) for s in subject_ids)
        shred_seconds = round(time.perf_counter() - started, 4)
    if first is not None:  # an earlier attempt may have destroyed the keys before it stopped
        shredded = max(shredded, sum(bool(e["details"].get("existed")) for e in service.audit.matching(
            events=["key_shredded"], since=first, mentioning=actor) if e["actor"] == actor))
    service.ledger.index.forget_subjects(subject_ids)
    delivered, unkept, for_delivery = _exports(service, subject_ids)
    for r in unkept:  # no period to keep it for delivery: erased too; the access record says why it is gone
        service.discard(export_path(service.paths, r))
        service.ledger.update_detail(r["request_id"], {"removed": {"at": timestamp(now), "rule": "erasure",
                                                                   "by": request.request_id}})
    done = {"subject_ids": list(subject_ids), "keys_shredded": shredded, "removed": removed, "kept": kept,
            "earlier_exports_delivered": delivered, "earlier_exports_deleted": [r["request_id"] for r in unkept],
            "exports_kept_for_delivery": for_delivery,
            "immediate_seconds": round(time.perf_counter() - started, 3), "shred_seconds": shred_seconds,
            "shredded_at": timestamp(now)}
    service.ledger.update_detail(request.request_id, {"erasure": done})
    return done


def record_pending(ledger, request_id: str, result: Erasure) -> None:
    """What an erasure removes and keeps, in its request's record before the deletions commit."""
    ledger.update_detail(request_id, {"erasure_pending": asdict(result)})


def unfinished(ledger) -> dict[str, list[str]]:
    """The subjects of each erasure request stopped before its deletions were recorded done (the
    keys may be destroyed already), per request id: the retention sweep erases their rows in the
    request's name (``privacy.rights.erasure.erase_again``) and records what it did for the retake."""
    return {r["request_id"]: d["erasure_subjects"] for r in ledger.rows()
            if r["type"] == "erasure" and r["status"] not in ANSWERED
            and "erasure_subjects" in (d := json.loads(r["detail"])) and "erasure" not in d}


def _exports(service, subject_ids: list[str]) -> tuple[list[str], list[dict], list[dict]]:
    """The subjects' access exports (Art. 15, 20): (the ids of those delivered already, those erased
    with the data, those kept for delivery as {request_id, until}).

    An export still in the outbox is one not recorded as delivered (``klantkluis request delivered``
    removes it at once), whenever it was made: the subject is still owed that answer (Art. 12(3),
    15), and answering is a legal duty (Art. 17(3)(b)), so it is kept to deliver it. The trade-off:
    the zip holds the erased person's data in clear, out of reach of the destroyed key, so it is
    kept only until it is recorded as delivered or its rule ``access_exports`` removes it (counted
    from the access request's completion, as ``file_retention.remove_expired`` does), whichever
    comes first, and never without limit: a policy without that rule sets no end, so the export
    goes with the data and the receipt says it was not delivered. A delivered export is gone from
    the outbox already; the receipt says so."""
    rule = service.policy.retention.get("access_exports")
    delivered, erase, deliver = [], [], []
    for r in service.ledger.results_for(subject_ids, "access"):
        if (json.loads(r["detail"]).get("removed") or {}).get("rule") == "delivered":
            delivered.append(r["request_id"])
        elif not (r["result_path"] and export_path(service.paths, r).exists()):  # removed after its days already
            continue
        elif rule is None:
            erase.append(r)
        else:
            answered = datetime.fromisoformat(r["completed_at"])
            deliver.append({"request_id": r["request_id"],
                            "until": local_date(timestamp(answered + timedelta(days=rule.duration_days)))})
    return delivered, erase, deliver


def exports_said(done: dict) -> list[tuple[str, str]]:
    """The receipt's sentences on the subject's access exports (``_exports``), in Dutch and English:
    one delivered earlier, one erased undelivered, and until when one is kept for delivery."""
    said = [text for key, text in (("earlier_exports_delivered", texts.ERASED_EXPORT),
                                   ("earlier_exports_deleted", texts.EXPORT_ERASED_UNDELIVERED)) if done.get(key)]
    if kept := done.get("exports_kept_for_delivery"):
        said.append(dated(texts.EXPORT_KEPT_FOR_DELIVERY, max(e["until"] for e in kept)))
    return said


def _found(done: dict) -> bool:
    """Whether an erasure's immediate part (``erase_now``) found anything of the subject to erase."""
    return bool(done["removed"] or done["kept"] or done["keys_shredded"])


def _kept_by_law(kept: list[dict]) -> list[tuple[str, str]]:
    """Until when rows are kept by law without a link to the subject (ERASED_KEPT), if any are."""
    ends = max((k["legal_duty_ends"] for k in kept if k.get("legal_duty_ends")), default=None)
    return [dated(texts.ERASED_KEPT, ends)] if ends else []


def _records_kept(policy) -> tuple[str, str]:
    """What stays as proof (ERASED_RECORDS), with the periods of the policy's rules."""
    years = {name: round(policy.retention[rule].duration_days / 365.25)
             for name, rule in (("records", "request_records"), ("log", "audit_log"))}
    return tuple(t.format(**years) for t in texts.ERASED_RECORDS)


def _explanation(found: bool, done: dict, policy) -> tuple[str, str]:
    """What the erasure did, in plain Dutch and English (Art. 12(1)): erased, kept by law until when,
    what became of the access exports, what stays as proof (the periods from the policy's rules)."""
    if not found:
        return texts.ERASED_NOTHING
    parts = [texts.ERASED] + ([texts.ERASED_KEY] if done["keys_shredded"] else []) + _kept_by_law(done["kept"])
    parts += exports_said(done) + [_records_kept(policy)]
    return " ".join(p[0] for p in parts), " ".join(p[1] for p in parts)


def erased_before(service, subject_ids: list[str], now: datetime) -> tuple[str, str] | None:
    """For an access request (Art. 15(1)) about subjects the request ledger shows as erased (by an
    erasure, or a lead's objection), which no longer finds a row of theirs: that we erased their data
    and on which day, and what we still keep and until when, in the erasure receipt's own words (the
    rows kept by law, an access export still kept for delivery, the landing files while their rule
    runs, the proof); None when none of them was erased. Not "we do not process data about you":
    those stay, and the request records and the log too."""
    wanted = set(subject_ids)
    erased = [d["erasure"] for r in service.ledger.rows("completed") if "erasure" in (d := json.loads(r["detail"]))
              and wanted & set(d["erasure"]["subject_ids"]) and _found(d["erasure"])]
    if not erased:
        return None
    last = datetime.fromisoformat(max(e["shredded_at"] for e in erased))
    today = local_date(timestamp(now))
    kept = [k for e in erased for k in e.get("exports_kept_for_delivery", []) if k["until"] >= today]
    rule = service.policy.retention.get(landing_retention.RULE)
    landing = _sources_note(service.policy) if rule is None or last >= rule.cutoff(now) else None
    parts = ([dated(texts.ERASED_ON, local_date(timestamp(last)))]
             + _kept_by_law([k for e in erased for k in e["kept"]])
             + exports_said({"exports_kept_for_delivery": kept})
             + ([landing] if landing else []) + [_records_kept(service.policy)])
    return " ".join(p[0] for p in parts), " ".join(p[1] for p in parts)


def purge(service) -> dict | None:
    """Rewrite the warehouse without the deleted bytes (WarehouseBusy while a build holds it)."""
    if not service.paths.warehouse.exists():
        return None
    return {**compact_warehouse(service.paths),
            "completed_at": timestamp(datetime.now().astimezone()),
            "method": "COPY FROM DATABASE into a new file, atomic rename, old bytes overwritten"}


def erasure(service, request: Request, now: datetime) -> tuple[str, dict]:
    detail = json.loads(service.ledger.get(request.request_id)["detail"])
    # An attempt taken up again erases whom the first one found: by e-mail the subjects are found
    # through their keys, which that attempt may have destroyed already.
    ids = (detail["erasure"]["subject_ids"] if "erasure" in detail else detail["erasure_subjects"]
           if "erasure_subjects" in detail else service.known([s for _, s in service.subjects(request, now)], request))
    done = erase_now(service, request, ids, now)
    purged = purge(service)
    published = republish(service.paths)
    found = _found(done)
    # Someone we hold anything of is tombstoned, so a later delivery is skipped, and the landing files
    # may hold them; a number nobody has is neither (RequestService.known): the receipt promises neither.
    suppression = {"suppression": texts.both(texts.SUPPRESSED)} if ids else {}
    sources = {"source_systems": texts.both(_sources_note(service.policy))} if ids else {}
    document = receipt(request, now, "Art. 17 GDPR", found=found,
                       explanation=texts.both(_explanation(found, done, service.policy)), subjects=len(ids), key_shredded={
                           "keys": done["keys_shredded"], "at": done["shredded_at"],
                           "effect": texts.both(texts.ERASED_KEY if done["keys_shredded"] else texts.NO_KEY)},
                       removed=done["removed"], kept=done["kept"],
                       published_copies=published and {"republished": True, **published},
                       **suppression,
                       earlier_exports_delivered=len(done["earlier_exports_delivered"]),
                       earlier_exports_deleted=len(done["earlier_exports_deleted"]),
                       exports_kept_for_delivery=done["exports_kept_for_delivery"],
                       physical_purge=purged, **sources,
                       timing={"key_shredded_after_seconds": done["shred_seconds"],
                               "immediate_seconds": done["immediate_seconds"],
                               "purge_seconds": purged and purged["seconds"],
                               "publish_seconds": published and published["seconds"]})
    path = write_receipt(service, document)
    service.audit.append("erasure_completed", now=now, request_id=request.request_id,
                         purge_seconds=purged and purged["seconds"], republished=bool(published))
    return path, {"subject_ids": ids, "found": found, "removed": {r["table"]: r["rows"] for r in done["removed"]},
                  "kept": {k["table"]: k["rows"] for k in done["kept"]}, "keys_shredded": done["keys_shredded"],
                  "earlier_exports_deleted": done["earlier_exports_deleted"],
                  "exports_kept_for_delivery": done["exports_kept_for_delivery"],
                  "shred_seconds": done["shred_seconds"], "immediate_seconds": done["immediate_seconds"],
                  "purge_seconds": purged and purged["seconds"],
                  "publish_seconds": published and published["seconds"]}
