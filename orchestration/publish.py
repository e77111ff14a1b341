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

import fcntl
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR, connect_duckdb, sql_string
from privacy.classification import load_classification


DICTIONARY = "data_dictionary"  # published beside the marts: every mart's and column's description


@dataclass(frozen=True)
class Publication:
    duckdb_file: Path
    parquet_dir: Path
    tables: dict[str, int]
    as_of: datetime | None = None  # the time the published marts are measured from (their build_info)


def _swap_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, link)


def _describe(con, schema: str, names: list[str], parquet_dir: Path) -> None:
    """What each mart and column means, where a BI tool finds it: the descriptions of the dbt YAML
    (the same as dbt's docs site) as table and column comments in the DuckDB copy, and as the
    table ``data_dictionary`` (and its Parquet file) for tools that do not show comments."""
    docs = {t.name: t for t in load_classification(DBT_PROJECT_DIR) if t.layer == "model"}
    rows = []
    for mart, column, data_type in con.execute(
            "select table_name, column_name, data_type from duckdb_columns() where database_name = "
            "current_database() and schema_name = ? order by table_name, column_index", [schema]).fetchall():
        if mart not in names:  # a view: not copied
            continue
        table = docs.get(mart)
        described = {c.name: c.description for c in table.columns} if table else {}
        rows.append((mart, table.description if table else None, column, data_type, described.get(column) or None))
    con.execute(f"create table staged.main.{DICTIONARY} (mart varchar, mart_description varchar, "
                "column_name varchar, data_type varchar, description varchar)")
    con.executemany(f"insert into staged.main.{DICTIONARY} values (?, ?, ?, ?, ?)", rows)
    for mart, description in {r[0]: r[1] for r in rows if r[1]}.items():
        con.execute(f'comment on table staged.main."{mart}" is {sql_string(description)}')
    for mart, _, column, _, description in rows:
        if description:
            con.execute(f'comment on column staged.main."{mart}"."{column}" is {sql_string(description)}')
    con.execute(f"copy staged.main.{DICTIONARY} to {sql_string(str(parquet_dir / (DICTIONARY + '.parquet')))} (format parquet)")


def publish(warehouse: Path, out: Path, now: datetime, schema: str = "marts") -> Publication:
    """Copy every table of `schema` to a fresh DuckDB file and Parquet files, then swap them in."""
    with connect_duckdb(warehouse, read_only=True) as con:  # WarehouseBusy (before anything is made) while busy
        out.mkdir(parents=True, exist_ok=True)
        with open(out / ".publishing.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one publication at a time: a run's and an erasure's
            _leftovers(out)
            return _publish(con, out, now, schema)


def _leftovers(out: Path) -> None:
    """Remove what an interrupted publication left: a half-written copy of the marts holds subjects
    erased since (Art. 17), and no reader ever opens it."""
    for path in out.glob(".marts-*"):
        path.unlink(missing_ok=True)
    current = (out / "parquet" / "current").resolve()
    for folder in (out / "parquet").glob("v*"):
        if folder != current:
            shutil.rmtree(folder, ignore_errors=True)


def _publish(con, out: Path, now: datetime, schema: str) -> Publication:
    # The run's time names the version, and a random part keeps it new when two runs share a time
    # (`run --as-of` twice): writing into the folder readers have open would not be atomic.
    version = f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
    parquet_root = out / "parquet"
    parquet_dir = parquet_root / f"v{version}"
    staged_db = out / f".marts-{version}.duckdb"
    tables: dict[str, int] = {}
    parquet_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"attach {sql_string(str(staged_db))} as staged (read_write)")
    names = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() and schema_name = ? "
        "order by table_name", [schema]).fetchall()]
    for name in names:
        con.execute(f'create table staged.main."{name}" as select * from "{schema}"."{name}"')
        con.execute(f'copy staged.main."{name}" to {sql_string(str(parquet_dir / (name + ".parquet")))} (format parquet)')
        tables[name] = con.execute(f'select count(*) from staged.main."{name}"').fetchone()[0]
    _describe(con, schema, names, parquet_dir)
    as_of = con.execute("select max(as_of) from staged.main.build_info").fetchone()[0] if "build_info" in names else None
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
    return Publication(out / "marts.duckdb", parquet_root / "current", tables, as_of)
