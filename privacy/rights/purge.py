"""Physical purge after erasure: deleted rows must leave the bytes of the file, not just the index.

DuckDB (like most databases) marks deleted rows and reuses their blocks later; until then the
old values, a pseudonymous id among them, are still in the file. ``compact`` rewrites the
database with ``COPY FROM DATABASE`` into a fresh file, checks every table's row count, swaps it
in with one rename and overwrites the old file's bytes with zeros. Serves GDPR Art. 17(1)
(erasure without undue delay) and Art. 32(1)(b) (confidentiality of what was deleted).
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from privacy.paths import fsync_dir

_CHUNK = 1 << 20


def compact(path: str | os.PathLike[str], connect: Callable[[str], duckdb.DuckDBPyConnection] = duckdb.connect) -> dict:
    """Rewrite the DuckDB file at ``path`` without its deleted rows (Art. 17); returns sizes and time.

    Needs exclusive access (no other connection may be open); the swap is atomic, so readers
    that open the file afterwards see the new file, never a half-written one. ``connect`` opens
    the file (the caller's settings, such as a memory budget). One compaction of a file at a time
    (a lock beside it): what an interrupted one left is a full copy of the data, the rows erased
    since among them, and goes, zeroed; one still running is waited for."""
    path = Path(path)
    with open(path.with_name(f".{path.stem}.compact.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        leftovers = [p for p in path.parent.glob(f".{path.stem}.compact-*{path.suffix}*") if p.is_file()]
        with overwritten_when_replaced(leftovers):
            for leftover in leftovers:
                leftover.unlink(missing_ok=True)
        return _compact(path, connect)


def _compact(path: Path, connect: Callable[[str], duckdb.DuckDBPyConnection]) -> dict:
    started = time.perf_counter()
    before, fresh = path.stat().st_size, path.with_name(f".{path.stem}.compact-{os.getpid()}{path.suffix}")
    con = connect(str(path))
    try:
        con.execute("checkpoint")
        catalog = con.execute("select current_database()").fetchone()[0]
        con.execute("attach '" + str(fresh).replace("'", "''") + "' as compacted")  # a quote in the path too
        con.execute(f'copy from database "{catalog}" to compacted')
        tables = con.execute("select schema_name, table_name from duckdb_tables() where database_name = ?", [catalog]).fetchall()
        for schema, table in tables:
            old, new = (con.execute(f'select count(*) from "{db}"."{schema}"."{table}"').fetchone()[0]
                        for db in (catalog, "compacted"))
            if old != new:
                raise RuntimeError(f"compaction of {path.name} lost rows in {schema}.{table}; the original is kept")
        con.execute("detach compacted")
    except BaseException:
        con.close()
        fresh.unlink(missing_ok=True)
        raise
    con.close()
    os.chmod(fresh, path.stat().st_mode & 0o777)
    with overwritten_when_replaced([path]):
        os.replace(fresh, path)
    fsync_dir(path.parent)
    return {"file": path.name, "bytes_before": before, "bytes_after": path.stat().st_size,
            "seconds": round(time.perf_counter() - started, 3)}


@contextmanager
def overwritten_when_replaced(paths: Iterable[Path]) -> Iterator[None]:
    """Zero the bytes of each file that the body replaces or deletes (best effort: a copy-on-write
    file system or an SSD may keep old blocks; crypto-shredding covers the encrypted values).
    Only a regular file with no other name is zeroed: never what a symbolic link points to, nor
    bytes that a hard link elsewhere still shows (a key file linked into an inbox, say)."""
    handles = []
    for p in paths:
        try:
            info = os.lstat(p)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:  # a link goes, what it shows stays
                continue
            os.chmod(p, info.st_mode | 0o200)  # published copies are read-only; we own them
            handles.append(os.open(p, os.O_RDWR | os.O_NOFOLLOW))
        except OSError:  # gone, not ours, or swapped for a link in the meantime
            continue
    try:
        yield
    finally:
        for fd in handles:
            try:  # zeroed only when no name shows these bytes any more (a hard link elsewhere keeps them)
                if stat.S_ISREG(os.fstat(fd).st_mode) and os.fstat(fd).st_nlink == 0:
                    _zero(fd)
            finally:
                os.close(fd)


def _zero(fd: int) -> None:
    size, block = os.fstat(fd).st_size, bytes(_CHUNK)
    os.lseek(fd, 0, os.SEEK_SET)
    for offset in range(0, size, _CHUNK):
        os.write(fd, block[: min(_CHUNK, size - offset)])
    os.fsync(fd)
