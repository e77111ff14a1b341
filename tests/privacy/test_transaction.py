"""One transaction pattern for DuckDB and SQLite (Art. 5(1)(f), 32(1)(b)): all of a change or none."""

import sqlite3

import duckdb
import pytest

from privacy.transaction import transaction


@pytest.fixture(params=["duckdb", "sqlite"])
def con(request, tmp_path):
    if request.param == "duckdb":
        con = duckdb.connect(str(tmp_path / "w.duckdb"))
    else:
        con = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)  # autocommit: we open transactions
    con.execute("create table t (x integer)")
    yield con
    con.close()


def _rows(con) -> list:
    return [r[0] for r in con.execute("select x from t order by x").fetchall()]


def test_the_block_is_committed_when_it_ends(con):
    with transaction(con):
        con.execute("insert into t values (1)")
    assert _rows(con) == [1]


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_block_that_raises_or_is_interrupted_leaves_nothing_and_the_connection_usable(con, error):
    with pytest.raises(error):
        with transaction(con):
            con.execute("insert into t values (1)")
            raise error()
    assert _rows(con) == []
    with transaction(con):  # no transaction is left open: a new one begins
        con.execute("insert into t values (2)")
    assert _rows(con) == [2]


def test_sqlite_writers_can_take_the_write_lock_at_once(tmp_path):
    con = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    other = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None, timeout=0)
    con.execute("create table t (x integer)")
    with transaction(con, "begin immediate"):
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("begin immediate")
    other.execute("begin immediate")
    other.execute("rollback")
