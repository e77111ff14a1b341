"""Columns newly declared ``transform: encrypt`` that an older warehouse holds as plain text are
encrypted in place, then the file is compacted so the plain values leave it (Art. 32(1)(a)); values
an older version encrypted without padding are encrypted again padded, in the ingest step
(``pad_written_before``), so their lengths no longer single out the subjects (Art. 32(1), 4(5)).

Whoever opens the warehouse to work on its rows first runs ``encrypt_plain``: the ingest step of
each source (for its own table) and the request service (for every source table), so a request
answered between an upgrade and the next ingest meets encrypted columns too. The compaction is
marked due before the encryption commits (``orchestration.compaction``); ``compact_if_due_now``
does it once no connection is open, so a step that fails, or a process that dies, leaves it to
the next one.
"""

from datetime import datetime

import pyarrow as pa

from orchestration.compaction import mark_due_now
from orchestration.ingest.schema import encrypt_plain_columns, plain_columns
from orchestration.settings import Paths
from privacy.audit import AuditLog
from privacy.crypto import BLOCK, PADDED_REMAINDER, decrypt_columns, encrypt_columns
from privacy.keystore import KeyStore
from privacy.rights.warehouse import column_types


def encrypt_plain(con, tables, paths: Paths, keystore: KeyStore, audit: AuditLog, now: datetime) -> list[str]:
    """Encrypt the plain columns of ``tables``; returns them as ``table.column``."""
    done = []
    for table in tables:
        if plain := plain_columns(con, table):
            mark_due_now(paths)
            encrypt_plain_columns(con, table, keystore, audit, now)
            done += [f"{table.name}.{name}" for name in plain]
    return done


def pad_written_before(con, tables, paths: Paths, keystore: KeyStore, audit: AuditLog, now: datetime) -> list[str]:
    """Encrypt again, padded, the values of ``tables`` an older version encrypted without padding: their
    ciphertexts' exact lengths, beside a few plain columns, single out most subjects (Art. 32(1),
    4(5)); only rows with such a value are read, so once done a run finds none. A value of an erased
    subject, unreadable already, becomes null, and its exact length with it (as in
    ``encrypt_plain_columns``). The compaction is marked due first; one audit entry per table
    (counts). Returns the columns as ``table.column``."""
    done = []
    for table in tables:
        types = column_types(con, "raw", table.name)
        names = [c.name for c in table.columns if c.transform == "encrypt" and types.get(c.name) == "BLOB"]
        if not names:
            continue
        picked = ", ".join(f'"{n}"' for n in names)
        unpadded = " or ".join(f'octet_length("{n}") % {BLOCK} <> {PADDED_REMAINDER}' for n in names)
        rows = con.execute(f'select rowid as _rid, subject_id, {picked} from raw."{table.name}" '
                           f"where {unpadded}").to_arrow_table()
        if not rows.num_rows:
            continue
        mark_due_now(paths)
        subject_ids = rows["subject_id"].to_pylist()
        plain = decrypt_columns({n: rows[n].to_pylist() for n in names}, subject_ids, table.name, keystore,
                                purpose="padding values encrypted before padding came in (Art. 32(1))",
                                audit=audit, now=now, on_shredded="none")
        padded = encrypt_columns(plain, subject_ids, table.name, keystore)
        assigned = ", ".join(f'"{n}" = p."{n}"' for n in names)
        con.register("_padded", pa.table({"_rid": rows["_rid"], **{n: pa.array(padded[n], pa.binary()) for n in names}}))
        try:
            con.execute(f'update raw."{table.name}" set {assigned} from _padded p where raw."{table.name}".rowid = p._rid')
        finally:
            con.unregister("_padded")
        audit.append("ciphertexts_padded", now=now, table=table.name, columns=names, rows=rows.num_rows,
                     subjects=len(set(subject_ids) - {None}))
        done += [f"{table.name}.{n}" for n in names]
    return done
