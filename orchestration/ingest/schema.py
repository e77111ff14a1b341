"""DDL of the raw layer, derived from the classification (the sources YAML), never written twice:
an encrypted column can only be BLOB (Art. 32(1)(a)).

Raw columns hold the landing values as text, encrypted values as BLOB; typing happens in the
dbt staging models, so a raw row is always what arrived. A column declared `encrypt` after an
older version stored it as text is encrypted in place (`encrypt_plain_columns`).
"""

from datetime import datetime

import duckdb
import pyarrow as pa

from privacy.audit import AuditLog
from privacy.classification import Table
from privacy.crypto import encrypt_columns
from privacy.keystore import KeyStore
from privacy.rights.warehouse import column_types
from privacy.tables import BOOKKEEPING
from privacy.transaction import transaction

# The order that puts a file's latest load first in raw._batches: batch ids sort in creation
# order, so runs that share a simulated time still have one latest load.
LATEST_LOAD_FIRST = "loaded_at desc, batch_id desc"
# The latest load of each file: what the reconciliation and the landing notes count.
LATEST_BATCHES = ("(select * from raw._batches qualify row_number() over (partition by source, file "
                  f"order by {LATEST_LOAD_FIRST}) = 1)")

_BATCHES = """
create table if not exists raw._batches (
    batch_id varchar primary key, source varchar not null, file varchar not null, sha256 varchar not null,
    input_rows bigint not null, loaded bigint not null, quarantined bigint not null,
    suppressed bigint not null, loaded_at timestamptz not null, table_failures varchar,
    columns_not_read varchar[], columns_missing varchar[], columns_read varchar[]
)"""
# Added to the load ledger after its first version (older warehouses get them in `ensure_raw_tables`):
# - table_failures: the table-level rules a file broke (rule names, "\n"-separated); an unchanged file is
#   not read again, so its gate outcome must outlive the run that loaded it;
# - columns_not_read, columns_missing, columns_read: the names in the file's header that are none of
#   ours, the optional columns of ours it lacks, and the columns of ours it has, as declared when it
#   was loaded (null: a load made before they were recorded); what the run summary and each ingest
#   step say about a file's columns (`landing_zone.file_columns`).
_BATCHES_ADDED = {"table_failures": "varchar", "columns_not_read": "varchar[]", "columns_missing": "varchar[]",
                  "columns_read": "varchar[]"}
# Landing files removed after their retention period (orchestration/ingest/landing_retention.py).
_LANDING_REMOVED = """
create table if not exists raw._landing_removed (
    source varchar not null, file varchar not null, loaded_at timestamptz not null, removed_at timestamptz not null,
    overwritten boolean not null
)"""
_QUARANTINE = """
create table if not exists raw._quarantine (
    source varchar not null, file varchar not null, line bigint not null, rule varchar not null,
    subject_id varchar, record blob, batch_id varchar not null, loaded_at timestamptz not null
)"""


def landing_columns(table: Table) -> list[str]:
    """The columns a landing file of this source must have, in declaration order."""
    out: list[str] = []
    for column in table.columns:
        name = column.from_column or column.name
        if column.name in BOOKKEEPING or name in out:
            continue
        out.append(name)
    return out


def optional_columns(table: Table) -> set[str]:
    """Landing columns a file may lack (they load as null)."""
    return {c.from_column or c.name for c in table.columns if c.optional}


def _type(column) -> str:
    if column.name == "_source_line":
        return "bigint"
    return "blob" if column.transform == "encrypt" else "varchar"


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, tables: list[Table], audit: AuditLog | None = None,
                      now: datetime | None = None) -> list[str]:
    """Create the raw schema, the load ledger, the quarantine and each declared raw table.

    An upgrade migrates itself: a column declared in the sources YAML after an older version made
    the table (a bookkeeping column, or a landing column such as a new optional one) is added,
    nullable and typed as declared, so its rows of earlier loads hold null. Each added landing
    column is recorded in ``audit`` (event ``raw_columns_added``: table and column names) and
    returned as ``table.column``. A column no longer declared stays in the table with its values,
    never dropped in silence: new loads leave it null, and the blocking ``classification_complete``
    check names it as unclassified until it is declared again or dropped by hand (README, Upgrading)."""
    con.execute("create schema if not exists raw")
    con.execute(_BATCHES)
    for name, kind in _BATCHES_ADDED.items():
        con.execute(f"alter table raw._batches add column if not exists {name} {kind}")
    con.execute(_QUARANTINE)
    con.execute(_LANDING_REMOVED)
    added = []
    for table in tables:
        columns = ", ".join(f'"{c.name}" {_type(c)}' for c in table.columns)
        con.execute(f'create table if not exists raw."{table.name}" ({columns})')
        held = column_types(con, "raw", table.name)
        new = [c for c in table.columns if c.name not in held]
        if (landing := [c.name for c in new if c.name not in BOOKKEEPING]) and audit is not None:
            audit.append("raw_columns_added", now=now, table=table.name, columns=landing)  # recorded first
        for c in new:
            con.execute(f'alter table raw."{table.name}" add column "{c.name}" {_type(c)}')
        added += [f"{table.name}.{name}" for name in landing]
    return added


def plain_columns(con: duckdb.DuckDBPyConnection, table: Table) -> list[str]:
    """The columns declared ``transform: encrypt`` that an older warehouse holds as plain text."""
    types = column_types(con, "raw", table.name)
    return [c.name for c in table.columns if c.transform == "encrypt" and types.get(c.name) == "VARCHAR"]


def encrypt_plain_columns(con: duckdb.DuckDBPyConnection, table: Table, keystore: KeyStore, audit: AuditLog,
                          now: datetime) -> list[str]:
    """Encrypt under each subject's key the columns declared ``transform: encrypt`` that an older
    warehouse holds as plain text (Art. 32(1)(a), 25(1)); returns their names. A subject whose key
    was shredded keeps no value (Art. 17). One transaction; the plain values are still in the
    file's free blocks afterwards, so the caller compacts the file (``privacy.rights.purge``)."""
    plain = plain_columns(con, table)
    if not plain:
        return []
    picked = ", ".join(f'"{name}"' for name in plain)
    rows = con.execute(f'select rowid as _rid, subject_id, {picked} from raw."{table.name}"').to_arrow_table()
    subject_ids = rows["subject_id"].to_pylist()
    gone = keystore.shredded({s for s in subject_ids if s is not None})
    values = {name: [None if sid in gone else v for sid, v in zip(subject_ids, rows[name].to_pylist())]
              for name in plain}
    encrypted = encrypt_columns(values, subject_ids, table.name, keystore, create_keys=True)
    con.register("_encrypted", pa.table({"_rid": rows["_rid"],
                                         **{name: pa.array(encrypted[name], pa.binary()) for name in plain}}))
    replaced = ", ".join(f'e."{name}" as "{name}"' for name in plain)
    try:
        with transaction(con):
            con.execute(f'create or replace table raw."{table.name}" as select t.* replace ({replaced}) '
                        f'from raw."{table.name}" t left join _encrypted e on t.rowid = e._rid order by t.rowid')
    finally:
        con.unregister("_encrypted")
    audit.append("plain_columns_encrypted", now=now, table=table.name, columns=plain, rows=rows.num_rows,
                 subjects=len(set(subject_ids) - {None}))
    return plain
