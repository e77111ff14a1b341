"""Rectification (GDPR Art. 16): the corrected value replaces the wrong one in every version.

The raw layer keeps one row per export, so a wrong value lives in several rows; each is
re-derived through :func:`privacy.ingest.protect` (the same transforms as at ingest: encryption
under the subject's key with a fresh nonce, age band, postcode area) and written back, so the
wrong value survives nowhere as "history". Snapshot versions holding a value derived from the
field (postcode area, age band, city) are corrected too; staging views show the new value at
once and the marts on their next build (Art. 5(1)(d), accuracy).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pandas as pd

from privacy.ingest import protect
from privacy.rights.warehouse import SUBJECT_COLUMN, subject_relations
from privacy.tables import LOAD_COLUMNS, Table

EDITABLE = ("encrypt", "keep")


def rectifiable_fields(table: Table) -> list[str]:
    """Fields a subject may have corrected: identifying columns stored as given, not the key."""
    key = table.subject.key if table.subject else None
    return [c.name for c in table.columns
            if c.category in ("direct_identifier", "quasi_identifier") and c.transform in EDITABLE
            and c.about is None and c.name not in (key, SUBJECT_COLUMN, *LOAD_COLUMNS)]


def rectify(con, table: Table, subject_id: str, natural_key: str, field: str, value: str, *, keystore,
            pseudonymiser, audit, actor: str, now: datetime) -> dict[str, int]:
    """Replace ``field`` in every raw row of the subject and in the snapshots (Art. 16).

    Returns rows changed per relation; ``natural_key`` must be the subject's own key."""
    if field not in rectifiable_fields(table):
        raise ValueError(f"{table.name}.{field} cannot be rectified")
    if pseudonymiser.subject_id(table.subject.kind, natural_key) != subject_id:
        raise ValueError("the natural key does not belong to the subject")
    affected = [c for c in table.columns if c.from_column == field and c.name not in LOAD_COLUMNS]
    rowids = [r[0] for r in con.execute(f'select rowid from raw."{table.name}" where {SUBJECT_COLUMN} = ?',
                                        [subject_id]).fetchall()]
    if not rowids:
        return {}
    landing = pd.DataFrame({field: [value] * len(rowids), table.subject.key: [natural_key] * len(rowids)}, dtype=object)
    protected = protect(replace(table, columns=tuple(affected)), landing, keystore=keystore,
                        pseudonymiser=pseudonymiser, now=now)
    names = [c.name for c in affected]
    changed = {f"raw.{table.name}": len(rowids)}
    con.execute("begin")
    try:
        sets = ", ".join(f'"{n}" = ?' for n in names)
        con.executemany(f'update raw."{table.name}" set {sets} where rowid = ?',
                        [[protected[n].iloc[i] for n in names] + [rowid] for i, rowid in enumerate(rowids)])
        plain = {c.name: protected[c.name].iloc[0] for c in affected if c.transform != "encrypt"}
        for rel in subject_relations(con, views=False):
            columns = [n for n in plain if n in rel.columns]
            if rel.schema == "snapshots" and columns:
                sets = ", ".join(f'"{n}" = ?' for n in columns)
                n = con.execute(f"update {rel.sql} set {sets} where {SUBJECT_COLUMN} = ?",
                                [plain[c] for c in columns] + [subject_id]).fetchone()[0]
                changed[rel.dataset] = n
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    audit.append("rectification", actor=actor, now=now, subject_id=subject_id, table=table.name, field=field,
                 rows=changed)
    return changed
