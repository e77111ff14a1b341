"""Requests that change data: rectification (Art. 16), objection (Art. 21) and withdrawal of
consent (Art. 7(3)).

A corrected value must pass the same expectation suite as at ingest (Art. 5(1)(d)); a broken rule
refuses the request with the rule's name. Withdrawals are written as consent events through the
single raw-layer writer (validation, pseudonymisation, load ledger, audit), from a private
temporary file that is deleted at once; the derived tables that state consent (the resolved
consents, the marketing audience and its published copy) follow immediately (``derive_withdrawal``),
and the next build derives the same from the events.
"""

import csv
import json
import os
from datetime import datetime, timezone

from orchestration.compaction import record_deletion
from orchestration.ingest.schema import landing_columns
from orchestration.ingest.writer import load_file
from orchestration.requests.common import MASTER_TABLES, Refused, receipt, republish, write_receipt
from orchestration.requests.erasure import erase_now, exports_said, landing_days, purge
from privacy.crypto import decrypt_columns
from privacy.paths import private_dir
from privacy.rights import texts
from privacy.rights.consent import (CHANNEL, PROFILING, RESOLVED, UNKNOWN_NOTICE, continuing_after_objection,
                                    direct_marketing_purposes, objection_purposes, purposes_for, withdrawal_events)
from privacy.rights.rectify import rectified_marks, rectify
from privacy.rights.requests import Request
from privacy.retention import latest_first
from privacy.tables import RECTIFIED
from privacy.rights.warehouse import column_types, recorded

EVENTS = "staging.stg_crm__consent_events"  # the events typed as the build reads them
AUDIENCE = "marts.marketing_audience"
FLAGS = {"marketing_email": "may_email", "telemarketing": "may_call"}  # the audience's channels: membership
PROFILED = ("tier", "segment")  # the audience's columns shown only with consent for profiling


def latest_row(service, con, table, subject_id: str, fields: set[str], purpose: str, actor: str,
               now: datetime) -> dict | None:
    """The subject's latest raw row of ``table`` in landing form: its columns stored in the clear,
    and of its encrypted ones only ``fields``, decrypted (audited): no more than the purpose
    needs (Art. 5(1)(c))."""
    order = latest_first(column_types(con, "raw", table.name))
    cur = con.execute(f'select * from raw."{table.name}" where subject_id = ? order by {order} limit 1', [subject_id])
    row = cur.fetchone()
    if row is None:
        return None
    record = dict(zip([d[0] for d in cur.description], row))
    secret = {c.name for c in table.columns if c.transform == "encrypt"}
    clear = decrypt_columns({c: [record[c]] for c in sorted(secret & fields)}, [subject_id], table.name,
                            service.keystore, purpose=purpose, audit=service.audit, actor=actor, now=now)
    record.update({c: v[0] for c, v in clear.items()})
    return {c: record.get(c) for c in landing_columns(table) if c not in secret - fields}


def broken_rules(table: str, row: dict, field: str, now: datetime) -> list[str]:
    """The rules of ``table``'s expectation suite that ``row``'s ``field`` breaks (Art. 5(1)(d));
    ``row`` may hold that field alone (a rule that also reads a column not given is not run)."""
    import pandas as pd
    from expectations.validate import validate

    failures = validate(table, pd.DataFrame([row], dtype=object), now).failures
    return sorted({r for r in failures["rule"] if r.endswith(f":{field}")})


def value_problem(request: Request, now: datetime, classification) -> str | None:
    """Why a rectification can never be carried out, checked when it is filed, so that a typing
    error is corrected before it becomes a refused request: the subject's record has no such
    field, or the new value breaks its rule; None when it may be carried out."""
    kinds = [request.subject_kind] if request.subject_kind else list(MASTER_TABLES)
    tables = [MASTER_TABLES[k] for k in kinds
              if request.field in landing_columns(classification.table(MASTER_TABLES[k], "source"))]
    if not tables:
        return f"a {request.subject_kind} record has no field {request.field}; check the field with the requester"
    broken = sorted({r for t in tables for r in broken_rules(t, {request.field: request.value}, request.field, now)})
    return (f"the new {request.field} breaks the rule(s) {', '.join(broken)}; check the value with the requester "
            "(in the form the landing files use)") if broken else None


def rectification(service, request: Request, now: datetime) -> tuple[str, dict]:
    actor, changed, ids, subjects = f"request:{request.request_id}", {}, [], service.subjects(request, now)
    table = None
    with service.warehouse() as con:
        for kind, sid in subjects:
            table = service.classification.table(MASTER_TABLES[kind], "source")
            row = latest_row(service, con, table, sid, {request.field, table.subject.key}, "rectification (Art. 16)",
                             actor, now)
            if row is None or request.field not in row:
                continue
            row[request.field] = request.value
            if broken := broken_rules(table.name, row, request.field, now):
                raise Refused(f"the corrected {request.field} breaks the rule(s) {', '.join(broken)}",
                              tuple(t.format(field=heading) for heading, t in zip(_headings(table, request.field),
                                                                                   texts.NOT_ACCEPTED)))
            changed.update(rectify(con, table, sid, row[table.subject.key], request.field, request.value,
                                   keystore=service.keystore, pseudonymiser=service.pseudonymiser,
                                   audit=service.audit, actor=actor, now=now, request_id=request.request_id))
            ids.append(sid)
    if ids:  # the old values' bytes stay in the warehouse file's free space until it is compacted
        record_deletion(service.paths, now)
    if request.field == "email" and ids:
        entries = [(service.pseudonymiser.lookup_hmac(request.value), k, s) for k, s in subjects if s in ids]
        service.ledger.index.index_file("rectification", request.request_id, request.request_id, entries)
    document = receipt(request, now, "Art. 16 GDPR", found=bool(ids), field=request.field, rows_corrected=changed,
                       effect=rectified_effect(table, request.field, service.policy) if ids
                       else texts.both(texts.NOTHING_FOUND))
    return write_receipt(service, document), {"subject_ids": ids, "found": bool(ids), "rows": changed}


def _headings(table, field: str) -> list[str]:
    """The field's heading on the access export's pages, per language of ``texts.LANGUAGES`` (Art. 12(1))."""
    title = table.column(field).title
    return [title.get(lang) or field for lang in texts.LANGUAGES]


def rectified_effect(table, field: str, policy) -> dict[str, str]:
    """What a rectification did, per language: the field by its heading on the access export's pages
    (Art. 12(1)), and that the landing file it was loaded from and the source system still hold the
    old value (Art. 16, 19), as an erasure receipt says of the erased data."""
    return {lang: text.format(field=heading, days=landing_days(policy))
            for lang, heading, text in zip(texts.LANGUAGES, _headings(table, field), texts.RECTIFIED)}


def consent(service, request: Request, now: datetime) -> tuple[str, dict]:
    subjects = service.subjects(request, now)
    customers, leads = [s for k, s in subjects if k == "customer"], [s for k, s in subjects if k == "lead"]
    purposes, actor, events = purposes_for(request.type, request.purpose, service.policy), f"request:{request.request_id}", 0
    lead_erasure = None
    # A lead is kept only to approach them: an objection, or a withdrawal that ends approaching them (no
    # consent of a lead is recorded, so it can only mean that), erases the lead (Art. 17(1)(c), 21(3)). A
    # lead is never profiled: withdrawing that alone changes nothing. A lead number nobody has is erased
    # from nothing, so it leaves no tombstone (RequestService.known).
    ends_approach = request.type == "objection" or bool(set(purposes) & (set(direct_marketing_purposes(service.policy))
                                                                         - {PROFILING}))
    leads = service.known(leads, request) if leads else []
    if leads and ends_approach:
        lead_erasure = erase_now(service, request, leads, now)
    leads_erased = bool(lead_erasure and (lead_erasure["removed"] or lead_erasure["kept"]))
    if customers and service.paths.warehouse.exists():
        with service.warehouse() as con:
            customers = recorded(con, customers)  # not a number nobody has, nor an erased customer
            if customers and purposes:
                events = _withdraw(service, con, request, customers, purposes, actor, now)
    else:
        customers = []
    if leads_erased:
        purge(service)
    published = republish(service.paths) if events or leads_erased else None
    effects = ([_objected(service.policy) if request.type == "objection" else _withdrawn(purposes, service.policy)]
               if events else []) + ([texts.LEAD_ERASED] if leads_erased else [])
    if leads_erased and request.type != "objection":  # why Art. 17(1)(c), the ground of an objection, applies
        effects.insert(effects.index(texts.LEAD_ERASED), texts.LEAD_WITHDRAWAL_AS_OBJECTION)
    effects += exports_said(lead_erasure or {})
    if not effects and leads:  # a lead, and a purpose a lead is never used for
        effects = [texts.LEAD_NOT_USED_SO]
    found = bool(customers) or leads_erased or bool(effects)  # one answer, for the receipt and the ledger
    document = receipt(request, now, "Art. 21 GDPR" if request.type == "objection" else "Art. 7(3) GDPR",
                       found=found, events=events,
                       consent_purposes_withdrawn=purposes if events else [], lead_records_erased=leads_erased,
                       earlier_exports_delivered=(lead_erasure or {}).get("earlier_exports_delivered", []),
                       earlier_exports_deleted=(lead_erasure or {}).get("earlier_exports_deleted", []),
                       exports_kept_for_delivery=(lead_erasure or {}).get("exports_kept_for_delivery", []),
                       published_copies_updated=bool(published),
                       effect=texts.both(tuple(" ".join(t) for t in zip(*effects)) if effects else texts.NOTHING_FOUND))
    service.audit.append("consent_withdrawn", now=now, request_id=request.request_id, events=events,
                         purposes=purposes, leads_erased=len(leads) if leads_erased else 0, subjects=customers)
    return write_receipt(service, document), {"subject_ids": customers + (leads if leads_erased else []),
                                                           "found": found,
                                                           "events": events, "purposes": purposes,
                                                           "exports_kept_for_delivery": (lead_erasure or {}).get(
                                                               "exports_kept_for_delivery", [])}


def _withdrawn(purposes: list[str], policy) -> tuple[str, ...]:
    return tuple(t.format(purposes=_consents_named(purposes, policy, lang))
                 for t, lang in zip(texts.WITHDRAWN, texts.LANGUAGES))


def _objected(policy) -> tuple[str, ...]:
    """What an objection to direct marketing stops (Art. 21(2)-(3): the policy's consent purposes it
    withdraws) and what goes on under legitimate interest, with the right to object to that too
    (Art. 21(1)), by the purposes' plain names."""
    def named(lang: str) -> str:
        return "; ".join(_lower_first(policy.purposes[p].plain.get(lang) or policy.purposes[p].description)
                         for p in continuing_after_objection(policy))
    return tuple(t.format(purposes=named(lang), stopped=_consents_named(objection_purposes(policy), policy, lang))
                 for t, lang in zip(texts.OBJECTED, texts.LANGUAGES))


def _consents_named(purposes: list[str], policy, lang: str) -> str:
    return "; ".join(policy.consent_plain.get(p, {}).get(lang) or policy.consent_purposes.get(p, p) for p in purposes)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _withdraw(service, con, request, customers, purposes, actor, now) -> int:
    crm = service.classification.table(MASTER_TABLES["customer"], "source")
    rows, withdrawing = [], []
    for sid in customers:
        key = request.identifier if request.identifier_kind == "customer_id" else \
            (latest_row(service, con, crm, sid, {"customer_id"}, "recording a withdrawal (Art. 7(3), 21)", actor, now)
             or {}).get("customer_id")
        notice = con.execute("select max(notice_version) from raw.consent_events where subject_id = ?", [sid]).fetchone()
        if key:
            # Dated when it is processed, not received: the latest event wins, and a grant dated in between
            # (a checkout's box ticked while the request waited) must not undo an objection (Art. 21(3)) the
            # receipt confirms "from now on"; the receipt date stays in the ledger for the month of Art. 12(3).
            rows += [(sid, e) for e in withdrawal_events(request.request_id, key, purposes, now,
                                                         (notice and notice[0]) or UNKNOWN_NOTICE)]
            withdrawing.append(sid)
    if not rows:
        return 0
    _load_events(service, con, request.request_id, [e for _, e in rows], now)
    derive_withdrawal(con, withdrawing, purposes, [e["event_id"] for _, e in rows])
    service.keystore.keep_withdrawals({**{f: e[f] for f in ("event_id", "purpose", "occurred_at", "notice_version")},
                                       "subject_id": sid, "request_id": request.request_id} for sid, e in rows)
    return len(rows)


def _load_events(service, con, request_id: str, rows: list[dict], now: datetime) -> None:
    """Load consent events through the raw-layer writer, from a private temporary file named after
    the request that is deleted at once."""
    table = service.classification.table("consent_events", "source")
    path = private_dir(service.paths.state / "tmp") / f"{request_id}.csv"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=landing_columns(table), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    try:
        result = load_file(con, table, path, service.ingest_context(now))
    finally:
        service.discard(path)
    if not result.skipped and result.loaded != len(rows):  # skipped: loaded by an earlier attempt
        raise RuntimeError(f"{len(rows) - result.loaded} of {len(rows)} withdrawal event(s) were not loaded "
                           f"({result.quarantined} quarantined by the consent_events suite, {result.suppressed} "
                           "suppressed as of an erased subject)")


def withdraw_again(service, con, now: datetime) -> list[str]:
    """Withdrawals that stay done (Art. 7(3), 21(3), 5(2)): the withdrawal events requests loaded
    (kept beside the keys) that the warehouse lacks, because it was restored from a backup older
    than the request, are loaded again as the request loaded them, with their own ids and times,
    so an objector does not return to the marketing audience. A subject without a CRM row (the
    events need the customer number) gets them once a run has loaded the row, before its build.
    One ``consent_withdrawal_reapplied`` audit entry (counts and request ids). Returns the subjects.
    The warehouse's own request-loaded events are kept first (``keep_loaded_withdrawals``)."""
    keep_loaded_withdrawals(service, con)
    # a purpose taken out of the policy since: its event would be quarantined, and its consent is no longer asked
    kept = [w for w in service.keystore.withdrawals() if w["purpose"] in service.policy.consent_purposes]
    if not kept or not column_types(con, "raw", "consent_events"):
        return []
    present = {e for (e,) in con.execute("select event_id from raw.consent_events where event_id in "
                                         "(select unnest(?::varchar[]))", [[w["event_id"] for w in kept]]).fetchall()}
    missing: dict[str, dict[str, list[dict]]] = {}  # request id -> subject id -> its events the warehouse lacks
    for w in kept:
        if w["event_id"] not in present:
            missing.setdefault(w["request_id"], {}).setdefault(w["subject_id"], []).append(w)
    crm, done = service.classification.table(MASTER_TABLES["customer"], "source"), {}
    for request_id, per_subject in missing.items():
        rows, subjects = [], {}
        for sid, events in per_subject.items():
            row = latest_row(service, con, crm, sid, {"customer_id"}, "restoring a withdrawal (Art. 7(3), 21)",
                             "system", now)
            if row and row.get("customer_id"):
                subjects[sid] = [w["purpose"] for w in events]
                occurred = datetime.fromisoformat(events[0]["occurred_at"]).replace(tzinfo=timezone.utc)
                rows += withdrawal_events(request_id, row["customer_id"], subjects[sid], occurred,
                                          events[0]["notice_version"])
        if rows:
            _load_events(service, con, request_id, rows, now)
            for sid, purposes in subjects.items():
                derive_withdrawal(con, [sid], purposes, [f"{request_id}-{p}" for p in purposes])
            done[request_id] = list(subjects)
    subjects = sorted({s for ids in done.values() for s in ids})
    if done:
        service.audit.append("consent_withdrawal_reapplied", now=now, subjects=len(subjects), requests=sorted(done))
    return subjects


def rectifications_lost(service, con) -> list[str]:
    """The completed rectifications (Art. 16, 5(1)(d)) none of whose corrected versions the warehouse
    holds, though it holds versions of the subject loaded before it: the warehouse was restored from
    a backup older than the request (the corrected value lived in the warehouse only, so it cannot
    be put back: the request is filed again). A version counts as loaded when its file's content
    first was, so loading the files again unchanged (``--reload``) changes nothing; a request whose
    corrected versions a changed file replaced since (the source's word stands, as the load said:
    corrections_dropped) is not named. Request ids, oldest first."""
    lost, types = [], {table: column_types(con, "raw", table) for table in MASTER_TABLES.values()}
    for r in service.ledger.rows("completed"):
        detail = json.loads(r["detail"])
        if r["type"] != "rectification" or not detail.get("found") or not detail.get("field"):
            continue
        for table, cols in types.items():
            if not {"_batch_id", detail["field"]} <= set(cols):
                continue
            marks = "t._rectified" if RECTIFIED in cols else "null"  # a table made before the first rectification
            done = datetime.fromisoformat(r["completed_at"])
            corrected, older, replaced = con.execute(
                "with first as (select source, file, sha256, min(loaded_at) as at from raw._batches group by all) "
                f"select count(*) filter (where list_has_any(string_split(coalesce({marks}, ''), ','), ?)), "
                "count(*) filter (where f.at <= ?), "
                "count(*) filter (where f.at > ? and exists (select 1 from raw._batches e where e.source = b.source "
                "and e.file = b.file and e.sha256 <> b.sha256 and e.loaded_at <= ?)) "
                f'from raw."{table}" t left join raw._batches b on b.batch_id = t._batch_id '
                "left join first f on f.source = b.source and f.file = b.file and f.sha256 = b.sha256 "
                "where t.subject_id in (select unnest(?))",
                [rectified_marks(detail["field"], r["request_id"]), done, done, done,
                 json.loads(r["subjects"])]).fetchone()
            if older and not corrected and not replaced:
                lost.append(r["request_id"])
                break
    return lost


def keep_loaded_withdrawals(service, con) -> int:
    """Keep beside the keys the withdrawal events requests loaded into the warehouse that the key
    store lacks (Art. 7(3), 21(3), 5(2)): a release before the key store kept them loaded them into
    the warehouse only, so after an upgrade a restore of a backup older than such an objection put
    the objector back in the marketing audience. Pseudonymous ids, purposes and times only; returns
    how many were added (none once they are kept)."""
    if not column_types(con, "raw", "consent_events"):
        return 0
    kept = {w["event_id"] for w in service.keystore.withdrawals()}
    loaded = con.execute("select event_id, subject_id, _source_file, purpose, occurred_at, notice_version "
                         "from raw.consent_events where channel = ? and action = 'withdrawn' and subject_id is not "
                         "null and _source_file like 'req-%.csv'", [CHANNEL]).fetchall()
    new = [{"event_id": event, "subject_id": sid, "request_id": source.removesuffix(".csv"), "purpose": purpose,
            "occurred_at": str(occurred).replace(" ", "T"), "notice_version": notice or UNKNOWN_NOTICE}
           for event, sid, source, purpose, occurred, notice in loaded if event not in kept]
    if new:
        service.keystore.keep_withdrawals(new)
    return len(new)


def derive_withdrawal(con, customers: list[str], purposes: list[str], event_ids: list[str]) -> None:
    """Carry withdrawal events just loaded into every derived table that states current consent, at
    once (Art. 7(3), 21(3)): the resolved consents become the withdrawal (dated now, it is the latest
    event, and it wins a tie: int_consents_resolved), and the marketing audience loses the withdrawn
    channels, or the subject (marketing_audience). The one place that knows this; the next build
    derives the same from the events. A table not built yet, or built by an older version without a
    column, is left to that build."""
    marks, purpose_marks = ", ".join("?" * len(customers)), ", ".join("?" * len(purposes))
    if column_types(con, *RESOLVED.split(".")) and column_types(con, *EVENTS.split(".")):
        con.execute(f"delete from {RESOLVED} where subject_id in ({marks}) and purpose in ({purpose_marks})",
                    customers + purposes)
        con.execute(f"insert into {RESOLVED} (subject_id, purpose, is_granted, decided_at, notice_version) "
                    f"select subject_id, purpose, action = 'granted', occurred_at, notice_version from {EVENTS} "
                    f"where event_id in ({', '.join('?' * len(event_ids))})", event_ids)
    sets = {FLAGS[p]: "false" for p in purposes if p in FLAGS}
    if PROFILING in purposes:
        sets |= {"may_profile": "false", **dict.fromkeys(PROFILED, "null")}
    sets = {c: v for c, v in sets.items() if c in column_types(con, *AUDIENCE.split("."))}
    if sets:
        con.execute(f"update {AUDIENCE} set {', '.join(f'{c} = {v}' for c, v in sets.items())} "
                    f"where subject_id in ({marks})", customers)
        con.execute(f"delete from {AUDIENCE} where subject_id in ({marks}) and not ({' or '.join(FLAGS.values())})",
                    customers)

