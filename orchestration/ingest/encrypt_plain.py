"""Columns newly declared ``transform: encrypt`` that an older warehouse holds as plain text are
encrypted in place, then the file is compacted so the plain values leave it (Art. 32(1)(a)).

Whoever opens the warehouse to work on its rows first runs ``encrypt_plain``: the ingest step of
each source (for its own table) and the request service (for every source table), so a request
answered between an upgrade and the next ingest meets encrypted columns too. A marker file in
``<home>/state`` records the compaction as due before the encryption commits; ``compact_if_due``
does it once no connection is open and removes the marker, so a step that fails, or a process
that dies, leaves it to the next one.
"""

from datetime import datetime

from orchestration.ingest.schema import encrypt_plain_columns, plain_columns
from orchestration.settings import Paths, connect_duckdb
from privacy.audit import AuditLog
from privacy.keystore import KeyStore
from privacy.paths import private_dir
from privacy.rights.purge import compact

COMPACTION_DUE = "compaction_due"


def encrypt_plain(con, tables, paths: Paths, keystore: KeyStore, audit: AuditLog, now: datetime) -> list[str]:
    """Encrypt the plain columns of ``tables``; returns them as ``table.column``."""
    done = []
    for table in tables:
        if plain := plain_columns(con, table):
            private_dir(paths.state)
            (paths.state / COMPACTION_DUE).touch()
            encrypt_plain_columns(con, table, keystore, audit, now)
            done += [f"{table.name}.{name}" for name in plain]
    return done


def compact_if_due(paths: Paths) -> float | None:
    """Compact the warehouse if an encryption left plain values in it; the seconds it took, or
    None. Needs exclusive access (WarehouseBusy otherwise)."""
    due = paths.state / COMPACTION_DUE
    if not due.exists():
        return None
    seconds = compact(paths.warehouse, connect_duckdb)["seconds"]
    due.unlink()
    return seconds
