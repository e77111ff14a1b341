"""All of a change or none of it (Art. 5(1)(f), 32(1)(b): integrity of the stored data).

One transaction pattern for the warehouse (DuckDB) and the SQLite stores (key store, blind index):
a load, an erasure, a rectification or a retention sweep that fails half-way, or is interrupted,
leaves the data as it was, never half-changed.
"""

from collections.abc import Iterator
from contextlib import contextmanager

ENDED = "no transaction is active"  # DuckDB's and SQLite's words when there is nothing to roll back


@contextmanager
def transaction(con, begin: str = "begin") -> Iterator[None]:
    """Run the block in one transaction on ``con`` (a DuckDB or sqlite3 connection): committed when
    the block ends, rolled back and the error raised again when it or the commit raises (an
    interrupt too). ``begin`` is the statement that opens it, such as SQLite's ``begin immediate``
    for a writer."""
    con.execute(begin)
    try:
        yield
        con.execute("commit")
    except BaseException:
        _rollback(con)
        raise


def _rollback(con) -> None:
    """Roll back what is left open. SQLite ends a transaction itself on some errors (a full disk, an
    I/O error) and keeps it open when its commit fails; DuckDB ends it when its commit fails. A
    rollback with nothing open would raise in place of the error that says what went wrong."""
    if not getattr(con, "in_transaction", True):  # sqlite3 says; a DuckDB connection does not
        return
    try:
        con.execute("rollback")
    except Exception as exc:
        if ENDED not in str(exc):
            raise
