"""Rectification (GDPR Art. 16): the corrected value replaces the wrong one in every version.

The value the subject corrects is the one in their latest version. The raw layer keeps one row
per export, so it may live in several rows: each row holding it is re-derived through
:func:`privacy.ingest.protect` (the same transforms as at ingest: encryption under the subject's
key with a fresh nonce, age band, postcode area) and written back, so the wrong value survives
nowhere as "history". Versions holding another value (an earlier address, correct then) are left
as they are (Art. 5(1)(d): accuracy of the history too). Snapshot versions holding a value derived
from the wrong one (postcode area, city) are corrected likewise; staging views show the new value
at once and the marts on their next build.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pandas as pd

from privacy.crypto import decrypt_values
from privacy.ingest import protect
from privacy.retention import latest_first
from privacy.rights.warehouse import SUBJECT_COLUMN, column_types, subject_relations
from privacy.tables import BOOKKEEPING, RECTIFIED, Table
from privacy.transaction import transaction

EDITABLE = ("encrypt", "keep")


def rectifiable_fields(table: Table) -> list[str]:
    """Fields a subject may have corrected: identifying columns stored as given, not the key."""
    key = table.subject.key if table.subject else None
    return [c.name for c in table.columns
            if c.category in ("direct_identifier", "quasi_identifier") and c.transform in EDITABLE
            and c.about is None and c.name not in (key, SUBJECT_COLUMN, *BOOKKEEPING)]


def derived_from(table: Table, field: str) -> list[str]:
    """The raw columns holding ``field`` or a value derived from it (postcode -> postcode_area)."""
    return [c.name for c in table.columns if c.from_column == field and c.name not in BOOKKEEPING]


def rectified_marks(field: str, request_id: str | None = None) -> list[str]:
    """The entries of a row's ``_rectified`` that say ``field`` holds the value ``request_id`` gave
    (Art. 16, 5(1)(d)): ``field:request_id``, and the field alone, as a release before request ids
    marked every corrected field (it names no request, so it counts for each). The first is written."""
    return [f"{field}:{request_id}", field] if request_id else [field]


def marked_fields(mark: str) -> list[str]:
    """The fields a row's ``_rectified`` names, each once."""
    return list(dict.fromkeys(entry.split(":")[0] for entry in mark.split(",") if entry))


def rectify(con, table: Table, subject_id: str, natural_key: str, field: str, value: str, *, keystore,
            pseudonymiser, audit, actor: str, now: datetime, request_id: str | None = None) -> dict[str, int]:
    """Replace ``field`` where the subject's rows and snapshot versions hold its latest (wrong) value (Art. 16).

    Returns rows changed per relation; ``natural_key`` must be the subject's own key. Each row
    corrected is marked with the field and ``request_id`` (``rectified_marks``), so a warehouse
    restored from before the request is seen to lack its value, also after an earlier request of
    the same field."""
    if field not in rectifiable_fields(table):
        raise ValueError(f"{table.name}.{field} cannot be rectified")
    if pseudonymiser.subject_id(table.subject.kind, natural_key) != subject_id:
        raise ValueError("the natural key does not belong to the subject")
    affected = [table.column(n) for n in derived_from(table, field)]
    derived = [c.name for c in affected if c.transform != "encrypt"]
    if any(c.name == RECTIFIED for c in table.columns):  # a warehouse made before the column: added here
        con.execute(f'alter table raw."{table.name}" add column if not exists {RECTIFIED} varchar')
    cols = column_types(con, "raw", table.name)
    extra = ", ".join(f'"{n}"' for n in derived) or "null"
    versions = con.execute(f'select rowid, "{field}", {extra} from raw."{table.name}" where {SUBJECT_COLUMN} = ? '
                           f"order by {latest_first(cols)}", [subject_id]).fetchall()
    if not versions:
        return {}
    held = [v[1] for v in versions]
    if next(c for c in affected if c.name == field).transform == "encrypt":  # the subject's own rows, under their key
        held = decrypt_values(held, [subject_id] * len(held), table.name, field, keystore, audit=audit, actor=actor,
                              now=now, purpose="rectification: find the versions holding the inaccurate value (Art. 16)")
    # The wrong value is the latest version's; it is corrected in the unbroken run of versions holding it,
    # from the latest back (a value given only later, or an earlier one, is not written over).
    run = next((i for i, h in enumerate(held) if h != held[0]), len(held))
    rowids = [v[0] for v in versions[:run]]
    wrong_derived = {n: {v[2 + k] for v in versions[:run]} for k, n in enumerate(derived)}  # e.g. each age band held
    landing = pd.DataFrame({field: [value] * len(rowids), table.subject.key: [natural_key] * len(rowids)}, dtype=object)
    protected = protect(replace(table, columns=tuple(affected)), landing, keystore=keystore,
                        pseudonymiser=pseudonymiser, now=now)
    names = [c.name for c in affected]
    changed = {f"raw.{table.name}": len(rowids)}
    with transaction(con):
        sets, mark = ", ".join(f'"{n}" = ?' for n in names), []
        if RECTIFIED in cols:  # the fields corrected in the row, so a reload of its unchanged file keeps them
            sets += (f", {RECTIFIED} = case when list_contains(string_split(coalesce({RECTIFIED}, ''), ','), ?) "
                     f"then {RECTIFIED} else concat_ws(',', {RECTIFIED}, ?) end")
            entry = rectified_marks(field, request_id)[0]
            mark = [entry, entry]
        con.executemany(f'update raw."{table.name}" set {sets} where rowid = ?',
                        [[protected[n].iloc[i] for n in names] + mark + [rowid] for i, rowid in enumerate(rowids)])
        plain = {c.name: protected[c.name].iloc[0] for c in affected if c.transform != "encrypt"}
        for rel in subject_relations(con, views=False):
            columns = [n for n in plain if n in rel.columns]
            if rel.schema == "snapshots" and columns:
                # A snapshot version holds only derived values: it is corrected when they are among those
                # of the corrected raw versions (a coarse value, such as a postcode area, may match both).
                sets = ", ".join(f'"{n}" = ?' for n in columns)
                held_wrong = " and ".join(_among(f'"{n}"', wrong_derived.get(n, set())) for n in columns)
                n = con.execute(f"update {rel.sql} set {sets} where {SUBJECT_COLUMN} = ? and {held_wrong}",
                                [plain[c] for c in columns] + [subject_id]
                                + [v for c in columns for v in sorted(wrong_derived.get(c, set()) - {None})]).fetchone()[0]
                changed[rel.dataset] = n
    audit.append("rectification", actor=actor, now=now, subject_id=subject_id, table=table.name, field=field,
                 rows=changed)
    return changed


def _among(column: str, values: set) -> str:
    """SQL: ``column`` is one of ``values`` (parameters follow, NULL as ``is null``)."""
    known = sorted(values - {None})
    terms = ([f"{column} in ({', '.join('?' * len(known))})"] if known else []) + ([f"{column} is null"] if None in values else [])
    return f"({' or '.join(terms) or 'false'})"


def corrections(con, table: Table, file: str) -> list[tuple[str, dict]]:
    """The corrected values held by ``file``'s rows of ``table``, per subject, read before the file
    is loaded again: a reload puts back what the landing file says, which a rectification corrected
    (Art. 16). Values are copied as stored (encrypted under the subject's key), never decrypted."""
    if table.subject is None or RECTIFIED not in column_types(con, "raw", table.name):
        return []
    cur = con.execute(f'select * from raw."{table.name}" where _source_file = ? and "{RECTIFIED}" is not null',
                      [file])
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        record = dict(zip(names, row))
        kept = [n for f in marked_fields(record[RECTIFIED]) for n in derived_from(table, f)] + [RECTIFIED]
        out.append((record[SUBJECT_COLUMN], {n: record[n] for n in kept}))
    return out


def reapply(con, table: Table, file: str, saved: list[tuple[str, dict]]) -> int:
    """Write ``corrections`` back into ``file``'s reloaded rows; the number of rows corrected again.
    A subject whose row the reload did not load (erased, or quarantined) is left out."""
    done = 0
    for subject_id, values in saved:
        sets = ", ".join(f'"{n}" = ?' for n in values)
        done += con.execute(f'update raw."{table.name}" set {sets} where _source_file = ? and {SUBJECT_COLUMN} = ?',
                            [*values.values(), file, subject_id]).fetchone()[0]
    return done
