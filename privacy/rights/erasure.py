"""Erasure (GDPR Art. 17): shred the key at once, then remove the subject from every table.

The subject's data key is destroyed first (crypto-shredding): from that moment every encrypted
copy of their values, in backups and extracts too, is unreadable, and the key store's tombstone
makes the ingest writer suppress their rows when a landing file is read again. Then, in one
transaction, their rows leave every table with a ``subject_id`` (raw, quarantine, snapshots,
intermediate, marts). What a legal duty keeps (a raw table whose retention rule says
``anonymise``, i.e. orders under the 7-year fiscal duty, Art. 17(3)(b) with 6(1)(c)) stays with
its ``subject_id`` replaced by a random token per row (the ``anon-`` tokens of the retention sweep)
and its other identifying columns and landing line cleared, so the kept rows can no longer be
linked to the person or to each other. Deleted bytes stay in the DuckDB file until it is rewritten:
see :mod:`privacy.rights.purge`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from privacy.policy import Policy, RetentionRule
from privacy.retention import ANONYMOUS_PREFIX, anonymised_columns, token_salt, token_sets, tokenised_columns
from privacy.rights.warehouse import SUBJECT_COLUMN, Relation, subject_relations
from privacy.tables import LOAD_COLUMNS, Classification
from privacy.transaction import transaction

DETACHED = "erased:"  # prefix of _source_file: a reload of the landing file must not drop the kept row


@dataclass(frozen=True)
class Erasure:
    """What an erasure did (Art. 17): keys shredded, rows removed per table, and rows a legal duty
    keeps, anonymised (Art. 17(3)(b))."""
    keys_shredded: int
    shred_seconds: float = 0.0  # from the start until every key is gone: the data is unreadable from here
    removed: list[dict] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)


def kept_tables(classification: Classification, policy: Policy) -> dict[str, RetentionRule]:
    """Raw tables whose rows a legal duty keeps after erasure (retention action ``anonymise``)."""
    out = {}
    for t in classification:
        if t.layer == "source" and t.subject and any(c.name == SUBJECT_COLUMN for c in t.columns):
            rule = policy.retention.get(t.column(SUBJECT_COLUMN).retention or "")
            if rule is not None and rule.action == "anonymise":
                out[t.name] = rule
    return out


def erase(con, subject_ids: Sequence[str], *, keystore, classification: Classification, policy: Policy,
          audit, actor: str, now: datetime, before_commit: Callable[[Erasure], None] | None = None) -> Erasure:
    """Erase the subjects (Art. 17(1)); returns what was removed and what was kept and why.
    ``before_commit`` gets the result before the deletions commit: a caller records it there, so
    that a process stopped right after the commit still knows what it erased (Art. 5(2), 12(3))."""
    started = time.perf_counter()
    shredded = sum(keystore.shred(s, now=now, actor=actor) for s in subject_ids)
    keep, ids = kept_tables(classification, policy), list(subject_ids)
    result = Erasure(shredded, round(time.perf_counter() - started, 4))
    marks = ", ".join("?" * len(ids))
    batches = bool(con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                               "and table_name = '_batches'").fetchone()[0])
    with transaction(con):
        for rel in subject_relations(con, views=False) if ids else []:
            where = f"where {SUBJECT_COLUMN} in ({marks})"
            if rel.schema == "raw" and rel.name in keep:
                kept = _anonymise(con, rel, ids, keep[rel.name], classification, policy)
                result.kept.extend([kept] if kept["rows"] else [])
                continue
            if rel.schema == "raw" and batches:
                n = _rebook(con, rel, where, ids)
                n = n and con.execute(f"delete from {rel.sql} {where}", ids).fetchone()[0]
            else:  # one scan per table: the delete reports its own count
                n = con.execute(f"delete from {rel.sql} {where}", ids).fetchone()[0]
            if n:
                result.removed.append({"table": rel.dataset, "rows": n})
        if before_commit is not None:
            before_commit(result)
    audit.append("erasure", actor=actor, now=now, subjects=len(ids), keys_shredded=shredded,
                 removed={r["table"]: r["rows"] for r in result.removed},
                 kept={k["table"]: k["rows"] for k in result.kept})
    return result


def erase_again(con, left: set[str], *, keystore, classification: Classification, policy: Policy, audit,
                now: datetime, unfinished: Mapping[str, Sequence[str]] | None = None,
                record: Callable[[str, Erasure], None] | None = None) -> list[str]:
    """Erasure that stays done (Art. 17(1), 5(2)): subjects of ``left`` (``retention.subjects_left``)
    whose key an erasure shredded have rows again only because the warehouse was restored from a
    backup older than their erasure (ingest suppresses them), or because their erasure stopped after
    destroying the key and before its deletions committed; they are erased again, as the request
    did, with an ``erasure`` audit entry and one ``erasure_reapplied`` (counts only). Returns their ids.

    ``unfinished`` names the subjects of such stopped erasure requests per request id: theirs are
    erased in the request's name, and ``record`` gets the request id and what was removed and kept
    before the deletions commit, so that the request, taken up again, still tells the subject what
    was erased and what a legal duty keeps (Art. 12(1), 19). All of its subjects with rows are, once
    one of them is here: a request stopped between two keys would otherwise erase the rest on its
    retake and record that over what was recorded here."""
    shredded = keystore.tombstones() & left
    rest, erased = set(shredded), set()
    for request_id, subjects in (unfinished or {}).items():
        if rest & set(subjects):
            theirs = sorted((left & set(subjects)) - erased)
            erase(con, theirs, keystore=keystore, classification=classification, policy=policy, audit=audit,
                  actor=f"request:{request_id}", now=now,
                  before_commit=record and (lambda result, request_id=request_id: record(request_id, result)))
            erased |= set(theirs)
            rest -= set(theirs)
    if rest:
        erase(con, sorted(rest), keystore=keystore, classification=classification, policy=policy, audit=audit,
              actor="system", now=now)
    again = sorted(shredded | erased)
    if again:
        audit.append("erasure_reapplied", now=now, subjects=len(again))
    return again


def _rebook(con, rel: Relation, where: str, ids: list[str]) -> int:
    # Keep the load ledger honest (input = loaded + quarantined + suppressed): the erased rows
    # now count as suppressed, as they will on every later load of the same file.
    column, batch = ("quarantined", "batch_id") if rel.name == "_quarantine" else ("loaded", "_batch_id")
    if batch not in rel.columns:
        return con.execute(f"select count(*) from {rel.sql} {where}", ids).fetchone()[0]
    counts = con.execute(f"select {batch}, count(*) from {rel.sql} {where} group by 1", ids).fetchall()
    if counts:
        con.executemany(f"update raw._batches set {column} = {column} - ?, suppressed = suppressed + ? "
                        "where batch_id = ?", [[n, n, b] for b, n in counts])
    return sum(n for _, n in counts)


def _anonymise(con, rel: Relation, ids: list[str], rule: RetentionRule, classification: Classification,
               policy: Policy) -> dict:
    marks, anchor = ", ".join("?" * len(ids)), f'try_cast("{rule.anchor}" as date)' if rule.anchor in rel.columns else "null"
    found = con.execute(f"select rowid, {anchor} from {rel.sql} where {SUBJECT_COLUMN} in ({marks})", ids).fetchall()
    if not found:
        return {"table": rel.dataset, "rows": 0}
    rowids, last = [r[0] for r in found], max((r[1] for r in found if r[1] is not None), default=None)
    table = classification.table(rel.name, "source")
    cleared = anonymised_columns(table, rel.columns)
    detach = f", _source_file = '{DETACHED}' || _source_file" if "_source_file" in rel.columns else ""
    tokenised = tokenised_columns(table, rel.columns)
    tokened = token_sets(tokenised)
    sets = "".join(f', "{c}" = null' for c in cleared) + detach + (f", {tokened}" if tokened else "")
    # One statement (one scan of the table), a fresh random token per row.
    rows = ", ".join(["(?, ?)"] * len(rowids))
    with token_salt(con):
        con.execute(f"update {rel.sql} set {SUBJECT_COLUMN} = erased.token{sets} from (values {rows}) erased(rid, token) "
                    f"where {rel.sql}.rowid = erased.rid",
                    [v for r in rowids for v in (r, ANONYMOUS_PREFIX + secrets.token_hex(16))])
    duty = sorted({p for c in table.columns for p in c.purposes
                   if p in policy.purposes and policy.purposes[p].legal_basis.startswith("6(1)(c)")} - {"privacy_compliance"})
    return {"table": rel.dataset, "rows": len(rowids),
            "kept_columns": [c for c in rel.columns if c not in (SUBJECT_COLUMN, *LOAD_COLUMNS, *cleared, *tokenised)],
            "identifying_data_removed": f"{SUBJECT_COLUMN} replaced by a random token per row"
                                        + "".join(f"; {c} replaced by a token that no longer matches the source "
                                                  "system's" for c in tokenised)
                                        + "; the link to the landing file line is cut; no direct identifier is kept",
            "legal_basis": "Art. 17(3)(b) with Art. 6(1)(c) GDPR",
            "legal_duty": [policy.purposes[p].description for p in duty] or [rule.description],
            "retention_rule": rule.name, "retention": rule.description, "retention_days": rule.duration_days,
            "legal_duty_ends": (last + timedelta(days=rule.duration_days)).isoformat() if last else None,
            "then": f"retention action '{rule.action}': the rows already hold no identifying data"}
