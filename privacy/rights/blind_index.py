"""Blind indexes of e-mail addresses and names: keyed HMACs, never the values (Art. 25(1)).

``email_index`` maps ``Pseudonymiser.lookup_hmac(email)`` to pseudonymous subject ids, so a
requester is found by e-mail without decrypting anyone's address (Art. 12(6)); ``name_index``
holds keyed HMACs of the known persons' names, to find third persons in an access export
(Art. 15(4), see :mod:`privacy.rights.names`). Both are filled per landing file, so a changed
file replaces its own entries, and live in the request ledger's SQLite file.
"""

from __future__ import annotations

import sqlite3

from privacy.transaction import transaction

TABLES = """
create table if not exists email_index (email_hmac text not null, kind text not null, subject_id text not null,
    source text not null, file text not null);
create table if not exists name_index (hmac text not null, source text not null, file text not null);
create table if not exists indexed_files (source text not null, file text not null, stamp text not null,
    primary key (source, file));
"""
# Look-ups by address, by name, by file (a changed file replaces its entries) and by subject
# (erasure finds a subject's entries, Art. 17).
INDEXES = {
    "email_index_hmac": "email_index (email_hmac)",
    "email_index_file": "email_index (source, file)",
    "email_index_subject": "email_index (subject_id)",
    "name_index_hmac": "name_index (hmac)",
    "name_index_file": "name_index (source, file)",
}
# A file with this many entries, and more than the indexes already hold, drops the indexes and
# builds them again after inserting: one sort per index beats a million inserts into each (1 M
# addresses, 2 M names: 18.5 s -> 16.3 s). Into a larger index, inserting costs less than
# sorting everything again (a day-2 CRM file of 76 k rows after 1.3 M persons: 5.6 s -> 2.4 s).
REBUILD_ROWS = 50_000


def _create_indexes(db: sqlite3.Connection) -> None:
    for name, on in INDEXES.items():
        db.execute(f"create index if not exists {name} on {on}")


class BlindIndex:
    """The e-mail and name indexes in an open SQLite connection (the ledger's): keyed HMACs that
    find a requester (Art. 12(6)) and third persons (Art. 15(4)) without the values (Art. 25(1))."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db
        self._db.executescript(TABLES)
        # 256 MiB of page cache for index builds over millions of rows (the default is 2 MiB):
        # day 1 at 1 M customers 21.4 s -> 19.1 s.
        self._db.execute("pragma cache_size = -262144")
        _create_indexes(self._db)

    def file_stamp(self, source: str, file: str) -> str | None:
        row = self._db.execute("select stamp from indexed_files where source = ? and file = ?", (source, file)).fetchone()
        return row[0] if row else None

    def index_file(self, source: str, file: str, stamp: str, entries: list[tuple[str, str, str]],
                   names: set[str] = frozenset()) -> None:
        """Replace the blind-index entries (email_hmac, kind, subject_id) and name HMACs of one file."""
        with transaction(self._db, "begin immediate"):
            self._db.execute("delete from email_index where source = ? and file = ?", (source, file))
            self._db.execute("delete from name_index where source = ? and file = ?", (source, file))
            rows = [(h, k, s, source, file) for h, k, s in entries if h and s]
            name_rows = [(h, source, file) for h in names]
            rebuild = len(rows) + len(name_rows) >= max(REBUILD_ROWS, self._entries())
            if rebuild:  # the index builds sort the keys themselves
                for name in INDEXES:
                    self._db.execute(f"drop index if exists {name}")
            else:  # sorted keys fill the live B-trees in order: several times faster for many entries
                rows.sort()
                name_rows.sort()
            self._db.executemany("insert into email_index values (?, ?, ?, ?, ?)", rows)
            self._db.executemany("insert into name_index values (?, ?, ?)", name_rows)
            if rebuild:
                _create_indexes(self._db)
            self._db.execute("insert or replace into indexed_files values (?, ?, ?)", (source, file, stamp))

    def _entries(self) -> int:
        return sum(self._db.execute(f"select count(*) from {t}").fetchone()[0] for t in ("email_index", "name_index"))

    def subjects_for_email(self, email_hmac: str) -> list[tuple[str, str]]:
        """(kind, subject_id) of every subject that ever had this address."""
        rows = self._db.execute("select kind, subject_id from email_index where email_hmac = ?", (email_hmac,))
        return sorted({(kind, subject_id) for kind, subject_id in rows})

    def files_for(self, email_hmac: str, subject_id: str) -> set[tuple[str, str]]:
        """(source, file) of every file that gave this subject this address."""
        return {(source, file) for source, file in self._db.execute(
            "select source, file from email_index where email_hmac = ? and subject_id = ?", (email_hmac, subject_id))}

    def known(self, table: str, hmacs: set[str]) -> set[str]:
        """Which of ``hmacs`` are in the e-mail (``email_index``) or name (``name_index``) index."""
        return self._present(table, "email_hmac" if table == "email_index" else "hmac", hmacs)

    def _present(self, table: str, column: str, values) -> set[str]:
        found, wanted = set(), sorted(set(values))
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            found.update(r[0] for r in self._db.execute(
                f"select distinct {column} from {table} where {column} in ({','.join('?' * len(part))})", part))
        return found

    def indexed_files(self) -> set[tuple[str, str]]:
        """(source, file) of every file read into the index."""
        return {(source, file) for source, file in self._db.execute("select source, file from indexed_files")}

    def forget_files(self, files: set[tuple[str, str]]) -> int:
        """Drop the name entries of ``files`` ((source, file): loaded files none of whose rows is
        left, Art. 5(1)(e)); returns the entries removed. A file's stamp stays, so an unchanged
        landing file is not read into the index again."""
        gone = sum(self._db.execute("delete from name_index where source = ? and file = ?", f).rowcount
                   for f in sorted(files))
        self._db.execute("pragma wal_checkpoint(truncate)")
        return gone

    def holding(self, subject_ids: list[str]) -> set[str]:
        """Which of ``subject_ids`` have an e-mail entry."""
        return self._present("email_index", "subject_id", subject_ids)

    def indexed_subjects(self) -> set[str]:
        """Every subject with an e-mail entry."""
        return {s for (s,) in self._db.execute("select distinct subject_id from email_index")}

    def forget_subjects(self, subject_ids: list[str], keep: set[tuple[str, str]] = frozenset()) -> int:
        """Drop the e-mail entries of erased subjects (Art. 17), or of subjects none of whose rows is
        left (Art. 5(1)(e)), but those read from the files in ``keep``; returns the entries removed."""
        if not subject_ids:
            return 0
        with transaction(self._db, "begin immediate"):  # one transaction, temporary lists: 200 k subjects in seconds
            self._db.execute("create temp table if not exists forgetting (subject_id text primary key) without rowid")
            self._db.execute("create temp table if not exists keeping (source text, file text, "
                             "primary key (source, file)) without rowid")
            self._db.executemany("insert or ignore into temp.forgetting values (?)", ((s,) for s in subject_ids))
            self._db.executemany("insert or ignore into temp.keeping values (?, ?)", sorted(keep))
            gone = self._db.execute(
                "delete from email_index where subject_id in (select subject_id from temp.forgetting) and not exists "
                "(select 1 from temp.keeping k where k.source = email_index.source and k.file = email_index.file)"
            ).rowcount
            self._db.execute("delete from temp.forgetting")
            self._db.execute("delete from temp.keeping")
        self._db.execute("pragma wal_checkpoint(truncate)")  # secure_delete zeroes the pages; WAL too
        return gone
