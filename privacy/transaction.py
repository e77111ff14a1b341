"""All of a change or none of it (Art. 5(1)(f), 32(1)(b): integrity of the stored data).

One transaction pattern for the warehouse (DuckDB) and the SQLite stores (key store, blind index):
a load, an erasure, a rectification or a retention sweep that fails half-way, or is interrupted,
leaves the data as it was, never half-changed.
"""

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def transaction(con, begin: str = "begin") -> Iterator[None]:
    """Run the block in one transaction on ``con`` (a DuckDB or sqlite3 connection): committed when
    the block ends, rolled back and the error raised again when it raises (an interrupt too).
    ``begin`` is the statement that opens it, such as SQLite's ``begin immediate`` for a writer."""
    con.execute(begin)
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
