"""Erasure (GDPR Art. 17): shred the key at once, then remove the subject from every table.

The subject's data key is destroyed first (crypto-shredding): from that moment every encrypted
copy of their values, in backups and extracts too, is unreadable, and the key store's tombstone
makes the ingest writer suppress their rows when a landing file is read again. Then, in one
transaction, their rows leave every table with a ``subject_id`` (raw, quarantine, snapshots,
intermediate, marts). What a legal duty keeps (a raw table whose retention rule says
``anonymise``, i.e. orders under the 7-year fiscal duty, Art. 17(3)(b) with 6(1)(c)) stays with
its ``subject_id`` replaced by a random token per row, so the kept rows can no longer be linked
to the person or to each other. Deleted bytes stay in the DuckDB file until it is rewritten:
see :mod:`privacy.rights.purge`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from privacy.policy import Policy, RetentionRule
from privacy.rights.warehouse import SUBJECT_COLUMN, Relation, subject_relations
from privacy.tables import LOAD_COLUMNS, Classification

TOKEN_PREFIX = "erased-"
DETACHED = "erased:"  # prefix of _source_file: a reload of the landing file must not drop the kept row


@dataclass(frozen=True)
class Erasure:
    keys_shredded: int
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
          audit, actor: str, now: datetime) -> Erasure:
    """Erase the subjects (Art. 17(1)); returns what was removed and what was kept and why."""
    shredded = sum(keystore.shred(s, now=now) for s in subject_ids)
    keep, ids = kept_tables(classification, policy), list(subject_ids)
    result = Erasure(shredded)
    marks = ", ".join("?" * len(ids))
    con.execute("begin")
    try:
        for rel in subject_relations(con, views=False) if ids else []:
            where = f"where {SUBJECT_COLUMN} in ({marks})"
            n = con.execute(f"select count(*) from {rel.sql} {where}", ids).fetchone()[0]
            if not n:
                continue
            if rel.schema == "raw" and rel.name in keep:
                result.kept.append(_anonymise(con, rel, ids, keep[rel.name], classification, policy))
                continue
            if rel.schema == "raw":
                _rebook(con, rel, where, ids)
            con.execute(f"delete from {rel.sql} {where}", ids)
            result.removed.append({"table": rel.dataset, "rows": n})
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    audit.append("erasure", actor=actor, now=now, subjects=len(ids), keys_shredded=shredded,
                 removed={r["table"]: r["rows"] for r in result.removed},
                 kept={k["table"]: k["rows"] for k in result.kept})
    return result


def _rebook(con, rel: Relation, where: str, ids: list[str]) -> None:
    # Keep the load ledger honest (input = loaded + quarantined + suppressed): the erased rows
    # now count as suppressed, as they will on every later load of the same file.
    if not con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                       "and table_name = '_batches'").fetchone()[0]:
        return
    column, batch = ("quarantined", "batch_id") if rel.name == "_quarantine" else ("loaded", "_batch_id")
    if batch not in rel.columns:
        return
    con.execute(f"update raw._batches set {column} = {column} - d.n, suppressed = suppressed + d.n "
                f"from (select {batch} as b, count(*) as n from {rel.sql} {where} group by 1) d "
                "where raw._batches.batch_id = d.b", ids)


def _anonymise(con, rel: Relation, ids: list[str], rule: RetentionRule, classification: Classification,
               policy: Policy) -> dict:
    marks = ", ".join("?" * len(ids))
    rowids = [r[0] for r in con.execute(f"select rowid from {rel.sql} where {SUBJECT_COLUMN} in ({marks})", ids).fetchall()]
    detach = ", _source_file = ? || _source_file" if "_source_file" in rel.columns else ""
    con.executemany(f"update {rel.sql} set {SUBJECT_COLUMN} = ?{detach} where rowid = ?",
                    [[TOKEN_PREFIX + secrets.token_hex(16), *([DETACHED] if detach else []), r] for r in rowids])
    table = classification.table(rel.name, "source")
    duty = sorted({p for c in table.columns for p in c.purposes
                   if p in policy.purposes and policy.purposes[p].legal_basis.startswith("6(1)(c)")} - {"privacy_compliance"})
    last = None
    if rule.anchor in rel.columns:
        placeholders = ", ".join("?" * len(rowids))
        last = con.execute(f"select max(try_cast({rule.anchor} as date)) from {rel.sql} where rowid in ({placeholders})",
                           rowids).fetchone()[0]
    return {"table": rel.dataset, "rows": len(rowids),
            "kept_columns": [c for c in rel.columns if c not in (SUBJECT_COLUMN, *LOAD_COLUMNS)],
            "identifying_data_removed": f"{SUBJECT_COLUMN} replaced by a random token per row; the link to the "
                                        "landing file line is cut; no direct identifier is kept",
            "legal_basis": "Art. 17(3)(b) with Art. 6(1)(c) GDPR",
            "legal_duty": [policy.purposes[p].description for p in duty] or [rule.description],
            "retention_rule": rule.name, "retention": rule.description, "retention_days": rule.duration_days,
            "delete_by": (last + timedelta(days=rule.duration_days)).isoformat() if last else None}
