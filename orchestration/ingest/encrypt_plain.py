"""Columns newly declared ``transform: encrypt`` that an older warehouse holds as plain text are
encrypted in place, then the file is compacted so the plain values leave it (Art. 32(1)(a)).

Whoever opens the warehouse to work on its rows first runs ``encrypt_plain``: the ingest step of
each source (for its own table) and the request service (for every source table), so a request
answered between an upgrade and the next ingest meets encrypted columns too. The compaction is
marked due before the encryption commits (``orchestration.compaction``); ``compact_if_due_now``
does it once no connection is open, so a step that fails, or a process that dies, leaves it to
the next one.
"""

from datetime import datetime

from orchestration.compaction import mark_due_now
from orchestration.ingest.schema import encrypt_plain_columns, plain_columns
from orchestration.settings import Paths
from privacy.audit import AuditLog
from privacy.keystore import KeyStore


def encrypt_plain(con, tables, paths: Paths, keystore: KeyStore, audit: AuditLog, now: datetime) -> list[str]:
    """Encrypt the plain columns of ``tables``; returns them as ``table.column``."""
    done = []
    for table in tables:
        if plain := plain_columns(con, table):
            mark_due_now(paths)
            encrypt_plain_columns(con, table, keystore, audit, now)
            done += [f"{table.name}.{name}" for name in plain]
    return done
