"""DDL of the raw layer, derived from the classification (the sources YAML), never written twice:
an encrypted column can only be BLOB (Art. 32(1)(a)).

Raw columns hold the landing values as text, encrypted values as BLOB; typing happens in the
dbt staging models, so a raw row is always what arrived.
"""

import duckdb

from privacy.classification import Table

METADATA_COLUMNS = ("_source_file", "_source_line", "_batch_id")
# The order that puts a file's latest load first in raw._batches: batch ids sort in creation
# order, so runs that share a simulated time still have one latest load.
LATEST_LOAD_FIRST = "loaded_at desc, batch_id desc"
DERIVED = {"pseudonymise", "age_band", "postcode_area", "redact"}

_BATCHES = """
create table if not exists raw._batches (
    batch_id varchar primary key, source varchar not null, file varchar not null, sha256 varchar not null,
    input_rows bigint not null, loaded bigint not null, quarantined bigint not null,
    suppressed bigint not null, loaded_at timestamptz not null, table_failures varchar
)"""
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
        if column.name in METADATA_COLUMNS or name in out:
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


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, tables: list[Table]) -> None:
    """Create the raw schema, the load ledger, the quarantine and each declared raw table."""
    con.execute("create schema if not exists raw")
    con.execute(_BATCHES)
    # The table-level rules a file broke (rule names, "\n"-separated): an unchanged file is not read
    # again, so its gate outcome must outlive the run that loaded it. Added to older warehouses here.
    con.execute("alter table raw._batches add column if not exists table_failures varchar")
    con.execute(_QUARANTINE)
    con.execute(_LANDING_REMOVED)
    for table in tables:
        columns = ", ".join(f'"{c.name}" {_type(c)}' for c in table.columns)
        con.execute(f'create table if not exists raw."{table.name}" ({columns})')
