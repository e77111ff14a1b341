"""Publish the marts for BI tools: a read-only DuckDB file and Parquet files, swapped in atomically.

A BI tool never opens the warehouse (DuckDB allows one writer, and a reader would block dbt);
it reads `published/marts.duckdb` or `published/parquet/current/<mart>.parquet`. Each publication
is written aside and swapped in with one rename, so a reader sees the old or the new version,
never a half-written one. Older versions are deleted at once, so an erased subject leaves the
published copies with the next publication (Art. 17). Unlike everything else in an installation
(see ``settings.keep_files_private``), the copies are readable by the service account's group,
where the BI tools' accounts belong: folders 0750, files 0440 (never by every account: they are
pseudonymised personal data).
"""

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orchestration.settings import connect_duckdb


DICTIONARY = "data_dictionary"  # published beside the marts: every mart's and column's description


@dataclass(frozen=True)
class Publication:
    duckdb_file: Path
    parquet_dir: Path
    tables: dict[str, int]


def _swap_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, link)


def _describe(con, schema: str, parquet_dir: Path) -> None:
    """What each mart and column means, where a BI tool finds it: the dbt descriptions (persisted as
    the warehouse's comments, ``persist_docs``) as comments in the DuckDB copy, and as the table
    ``data_dictionary`` (and its Parquet file) for tools that do not show comments."""
    con.execute(f"""
        create table staged.main.{DICTIONARY} as
        select t.table_name as mart, t.comment as mart_description, c.column_name, c.data_type,
               c.comment as description
        from duckdb_tables() t join duckdb_columns() c using (database_name, schema_name, table_name)
        where t.database_name = current_database() and t.schema_name = ?
        order by t.table_name, c.column_index""", [schema])
    described = set()
    for mart, mart_comment, column, _, comment in con.execute(f"from staged.main.{DICTIONARY}").fetchall():
        if mart_comment and mart not in described:
            con.execute(f'comment on table staged.main."{mart}" is {_literal(mart_comment)}')
            described.add(mart)
        if comment:
            con.execute(f'comment on column staged.main."{mart}"."{column}" is {_literal(comment)}')
    con.execute(f"copy staged.main.{DICTIONARY} to '{parquet_dir / (DICTIONARY + '.parquet')}' (format parquet)")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish(warehouse: Path, out: Path, now: datetime, schema: str = "marts") -> Publication:
    """Copy every table of `schema` to a fresh DuckDB file and Parquet files, then swap them in."""
    version = now.strftime("%Y%m%dT%H%M%S%f")
    parquet_root = out / "parquet"
    parquet_dir = parquet_root / f"v{version}"
    staged_db = out / f".marts-{version}.duckdb"
    tables: dict[str, int] = {}
    with connect_duckdb(warehouse, read_only=True) as con:  # WarehouseBusy (before anything is made) while busy
        parquet_dir.mkdir(parents=True, exist_ok=True)
        staged_db.unlink(missing_ok=True)
        con.execute(f"attach '{staged_db}' as staged (read_write)")
        names = [r[0] for r in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() and schema_name = ? "
            "order by table_name", [schema]).fetchall()]
        for name in names:
            con.execute(f'create table staged.main."{name}" as select * from "{schema}"."{name}"')
            con.execute(f"copy staged.main.\"{name}\" to '{parquet_dir / (name + '.parquet')}' (format parquet)")
            tables[name] = con.execute(f'select count(*) from staged.main."{name}"').fetchone()[0]
        _describe(con, schema, parquet_dir)
        con.execute("detach staged")
    for folder in (out, parquet_root, parquet_dir):
        os.chmod(folder, 0o750)
    for path in (staged_db, *parquet_dir.iterdir()):
        os.chmod(path, 0o440)
    os.replace(staged_db, out / "marts.duckdb")
    _swap_symlink(parquet_root / "current", parquet_dir)
    for old in parquet_root.glob("v*"):
        if old != parquet_dir:
            shutil.rmtree(old, ignore_errors=True)
    return Publication(out / "marts.duckdb", parquet_root / "current", tables)
