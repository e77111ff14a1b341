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


def test_an_error_that_ended_the_transaction_itself_is_the_error_raised(tmp_path):
    """SQLite rolls a transaction back itself on a full disk: the rollback after it must not put
    "no transaction is active" in the place of the error that says what to fix."""
    con = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    con.execute("create table t (x blob)")
    con.execute("pragma max_page_count = 5")  # a full disk after a few pages
    with pytest.raises(sqlite3.OperationalError, match="full"):
        with transaction(con, "begin immediate"):
            for _ in range(100):
                con.execute("insert into t values (randomblob(3000))")
    assert not con.in_transaction


def test_a_sqlite_commit_that_fails_leaves_no_transaction_open(tmp_path):
    """SQLite keeps the transaction open when its commit fails (here a deferred constraint; also a
    busy reader): rolled back, so the connection's next transaction can begin."""
    con = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    con.execute("pragma foreign_keys = on")
    con.execute("create table p (x integer primary key)")
    con.execute("create table t (x integer references p (x) deferrable initially deferred)")
    with pytest.raises(sqlite3.IntegrityError):
        with transaction(con, "begin immediate"):
            con.execute("insert into t values (1)")
    assert not con.in_transaction
    with transaction(con, "begin immediate"):
        con.execute("insert into p values (1)")


def test_a_duckdb_commit_that_fails_is_the_error_raised(tmp_path):
    """DuckDB ends the transaction whose commit failed: its error, not the rollback's, is raised."""
    db = duckdb.connect(str(tmp_path / "w.duckdb"))
    db.execute("create table t (x integer primary key)")
    first, second = db.cursor(), db.cursor()
    second.execute("begin")
    second.execute("insert into t values (1)")
    with pytest.raises(duckdb.TransactionException, match="commit"):
        with transaction(first):
            first.execute("insert into t values (1)")
            second.execute("commit")  # the same key, committed first
    with transaction(first):
        first.execute("insert into t values (2)")
    assert [r[0] for r in db.execute("select x from t order by x").fetchall()] == [1, 2]
