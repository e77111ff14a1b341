"""Per-subject data keys in a SQLite file beside (never inside) the warehouse.

Each data subject gets an independent random 256-bit key, stored only wrapped by the master key.
Destroying one row makes every copy of that subject's encrypted values unreadable, in warehouse
backups too (crypto-shredding, GDPR Art. 17(1) and Art. 32(1)(a)); what is not encrypted (the
pseudonym, orders, redacted texts, the published extracts) a backup still holds until it expires. A key
derived from the master key could not be destroyed this way, so keys are never derived.

The store also keeps what a restore of the warehouse must not undo, because the key folder is backed
up apart and restored from its latest backup: erasure tombstones (Art. 17) and the consent
withdrawals and objections requests made (Art. 7(3), 21(3)); pseudonymous ids, purposes and times only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path

from privacy import _keys
from privacy._keys import Ciphers
from privacy.audit import AuditLog, timestamp
from privacy.exceptions import KeyFileError, WrongMasterKey
from privacy.masterkey import MasterKey, interrupted_rotation, wrap_all
from privacy.paths import private_dir, sqlite_problem
from privacy.pseudonym import check_subject_ids, raw_subject_ids
from privacy.transaction import transaction

# Subject ids are stored as their 32 raw bytes: half the size of hex text, twice the speed.
_SCHEMA = """
pragma secure_delete = on; pragma journal_mode = wal; pragma cache_size = -65536;
create table if not exists data_keys (subject_id blob primary key, wrapped blob not null) without rowid;
create table if not exists shredded (subject_id blob primary key, shredded_at text not null) without rowid;
create table if not exists meta (name text primary key, value text not null);
create table if not exists withdrawals (event_id text primary key, subject_id blob not null, request_id text not null,
  purpose text not null, occurred_at text not null, notice_version text not null);
"""
WITHDRAWAL_FIELDS = ("event_id", "subject_id", "request_id", "purpose", "occurred_at", "notice_version")
_CHUNK = 500


def _close_to_others(path: Path) -> None:
    """Make the store, its journal files and its folder the service account's only (Art. 32(1)(b)):
    a store copied in, or made by an older version or under another umask, may be open to all."""
    for p in (path.parent, path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            if p.stat().st_mode & 0o077:
                os.chmod(p, 0o700 if p.is_dir() else 0o600)


class KeyStore:
    """Data keys per subject, wrapped by ``master`` (envelope encryption, Art. 32(1)(a))."""

    def __init__(self, path: str | os.PathLike[str], master: MasterKey, *, audit: AuditLog | None = None):
        self.path, self._master, self._audit = Path(path), master, audit
        if not self.path.exists():
            private_dir(self.path.parent)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        _close_to_others(self.path)
        # Any thread may use the store, one at a time: the raw-layer writer's rows are protected
        # in a DuckDB thread that reads them while the thread that opened the store waits.
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            # secure_delete zeroes a shredded key's bytes at once; WAL plus a checkpoint after each
            # shred keeps the old page out of a rollback journal that would be unlinked, not wiped.
            self._db.executescript(_SCHEMA)
            with self._tx():
                self._db.execute("insert or ignore into meta values ('master_key_id', ?)", (master.key_id,))
                stored = self._db.execute("select value from meta where name = 'master_key_id'").fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise KeyFileError(f"{sqlite_problem('key store', self.path, exc)} (KLANTKLUIS_KEY_DIR)") from None
        if stored != master.key_id:
            self._db.close()
            if unfinished := interrupted_rotation(master, wrapping=stored):
                raise WrongMasterKey(unfinished)
            raise WrongMasterKey(f"key store {self.path} is wrapped by master key {stored}, "
                                 f"not by the given master key {master.key_id}: give the master key {stored} "
                                 "(master.key in KLANTKLUIS_KEY_DIR, or KLANTKLUIS_MASTER_KEY), restored from the "
                                 "key backup if need be")

    def ensure(self, subject_ids: Iterable[str]) -> int:
        """Create a random data key for each subject that has none; returns how many were made.

        Erased (shredded) subjects are skipped: an erased subject is never silently re-keyed
        (Art. 17); encrypting for them raises ``KeyShredded``.
        """
        return self._fetch(subject_ids, create=True)[1]

    def ciphers(self, subject_ids: Iterable[str], *, create: bool = False) -> Ciphers:
        """Ciphers for the subjects with a live key (absent: unknown or shredded); with
        ``create=True`` missing keys are made first, as by ``ensure``, in the same transaction."""
        live, _ = self._fetch(subject_ids, create=create)
        return Ciphers({k.hex(): w for k, w in live.items()}, self._master)

    def _fetch(self, subject_ids: Iterable[str], *, create: bool):
        keys, made = raw_subject_ids(subject_ids), []
        with self._tx(write=create):
            live = self._lookup("data_keys", keys)
            if create and (new := [k for k in keys if k not in live]):
                self._check_master()
                gone = self._lookup("shredded", new)
                new = [k for k in new if k not in gone]
                made = list(zip(new, wrap_all(self._master, _keys.new_keys(len(new)), [k.hex().encode() for k in new])))
                self._db.executemany("insert into data_keys values (?, ?)", made)
        if made and self._audit is not None:
            self._audit.append("keys_created", count=len(made))
        live.update(made)
        return live, len(made)

    def _check_master(self) -> None:
        """Refuse to wrap new keys under a master key another process has rotated away meanwhile:
        they could never be unwrapped again (the data they encrypt lost, Art. 32(1)(b), (c))."""
        stored = self._db.execute("select value from meta where name = 'master_key_id'").fetchone()[0]
        if stored != self._master.key_id:
            raise WrongMasterKey(f"the master key of key store {self.path} was rotated to {stored} while this "
                                 f"process held {self._master.key_id}: nothing was written; run again (a step "
                                 "started after the rotation reads the new master key)")

    def shredded(self, subject_ids: Iterable[str]) -> set[str]:
        """Which of ``subject_ids`` were erased by shredding their key (Art. 17)."""
        try:
            ids = subject_ids if isinstance(subject_ids, (set, frozenset)) else set(subject_ids)
        except TypeError:
            ids = {None}  # not an iterable of strings: check_subject_ids says what is expected
        check_subject_ids(ids)
        with self._tx(write=False):
            # Usually there are far fewer tombstones than ids asked about (a load asks about
            # every subject in a file): reading them all beats converting a million ids to bytes.
            if self._db.execute("select count(*) from shredded").fetchone()[0] <= len(ids):
                return {k.hex() for (k,) in self._db.execute("select subject_id from shredded")} & ids
            return {k.hex() for k in self._lookup("shredded", raw_subject_ids(ids))}

    def tombstones(self) -> set[str]:
        """Every subject erased by shredding their key whose tombstone is still kept (Art. 17): few,
        so reading them all beats asking about a million ids."""
        with self._tx(write=False):
            return {k.hex() for (k,) in self._db.execute("select subject_id from shredded")}

    def has(self, subject_id: str) -> bool:
        """Whether the subject has a live data key."""
        sql = "select 1 from data_keys where subject_id = ?"
        return self._db.execute(sql, (raw_subject_ids([subject_id])[0],)).fetchone() is not None

    def shred(self, subject_id: str, *, now: datetime | None = None, actor: str = "system") -> bool:
        """Destroy the subject's data key (crypto-shredding, Art. 17(1)); True if one existed.

        A tombstone (pseudonymous id and time) stays so later loads cannot re-key the subject.
        ``actor`` is who asked (``request:<id>``), for the audit entry.
        """
        key = raw_subject_ids([subject_id])[0]
        with self._tx():
            gone = self._db.execute("delete from data_keys where subject_id = ?", (key,)).rowcount
            self._db.execute("insert or ignore into shredded values (?, ?)", (key, timestamp(now)))
            self._db.execute("delete from withdrawals where subject_id = ?", (key,))  # the tombstone says more
        self._db.execute("pragma wal_checkpoint(truncate)")
        if self._audit is not None:
            self._audit.append("key_shredded", actor=actor, now=now, subject_id=subject_id, existed=bool(gone))
        return bool(gone)

    def subject_ids(self) -> set[str]:
        """Every subject with a live data key."""
        with self._tx(write=False):
            return {k.hex() for (k,) in self._db.execute("select subject_id from data_keys")}

    def retire(self, subject_ids: Iterable[str]) -> int:
        """Destroy the data keys of subjects none of whose rows is left (all past retention,
        Art. 5(1)(e)), so what the deleted rows left in the warehouse file cannot be decrypted.
        Unlike ``shred`` (erasure) no tombstone stays: a later delivery about the subject is new
        data, loaded under a new key. Returns how many keys went (the caller audits it)."""
        keys = raw_subject_ids(sorted(subject_ids))
        if not keys:
            return 0
        with self._tx():  # one statement against a temporary list: 200 k keys in seconds
            self._db.execute("create temp table if not exists retiring (subject_id blob primary key) without rowid")
            self._db.executemany("insert or ignore into temp.retiring values (?)", ((k,) for k in keys))
            gone = self._db.execute("delete from data_keys where subject_id in (select subject_id from temp.retiring)"
                                    ).rowcount
            self._db.execute("delete from withdrawals where subject_id in (select subject_id from temp.retiring)")
            self._db.execute("delete from temp.retiring")
        self._db.execute("pragma wal_checkpoint(truncate)")
        return gone

    def expire_tombstones(self, before: datetime) -> int:
        """Remove the erasure tombstones written before ``before`` (their rule in the policy);
        returns how many went."""
        with self._tx():
            return self._db.execute("delete from shredded where shredded_at < ?", (timestamp(before),)).rowcount

    def keep_withdrawals(self, events: Iterable[dict]) -> None:
        """Keep the withdrawal events a request loaded (Art. 7(3), 21(3)), so that a run on a
        warehouse restored from an older backup loads them again (``withdrawals``). Each event is
        a dict of ``WITHDRAWAL_FIELDS``: pseudonymous id, purpose, times; no personal values."""
        rows = [tuple(raw_subject_ids([e[f]])[0] if f == "subject_id" else e[f] for f in WITHDRAWAL_FIELDS)
                for e in events]
        with self._tx():
            self._db.executemany(f"insert or replace into withdrawals values ({', '.join('?' * len(WITHDRAWAL_FIELDS))})",
                                 rows)

    def withdrawals(self) -> list[dict]:
        """The withdrawal events kept (``keep_withdrawals``), oldest first; an erased or retired
        subject's went with their key."""
        with self._tx(write=False):
            rows = self._db.execute(f"select {', '.join(WITHDRAWAL_FIELDS)} from withdrawals "
                                    "order by occurred_at, event_id").fetchall()
        return [dict(zip(WITHDRAWAL_FIELDS, (r[0], r[1].hex(), *r[2:]))) for r in rows]

    def expire_withdrawals(self, before: datetime) -> int:
        """Forget the withdrawal events that occurred before ``before`` (the rule of the consent
        events, whose rows the sweep deletes then); returns how many went."""
        # the events' own form (naive UTC); at microseconds a marker goes no later than its event
        cutoff = before.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
        with self._tx():
            return self._db.execute("delete from withdrawals where occurred_at < ?", (cutoff,)).rowcount

    def rotate_master(self, new_master: MasterKey, *, now: datetime | None = None,
                      committed: Callable[[], None] | None = None) -> int:
        """Rewrap every data key under ``new_master`` (Art. 32(1)(a)); the warehouse is untouched.
        ``committed`` runs as soon as the rewrapped keys are committed (the installation binds the
        new key there), before the audit entry, which may fail."""
        old = self._master
        if new_master.key_id == old.key_id:
            raise ValueError("the new master key is the current master key")
        done, last = 0, b""
        with self._tx():
            while rows := self._db.execute("select subject_id, wrapped from data_keys where subject_id > ? "
                                           "order by subject_id limit 20000", (last,)).fetchall():
                aads = [k.hex().encode() for k, _ in rows]
                plain = [old.unwrap(w, a) for (_, w), a in zip(rows, aads)]
                rewrapped = list(zip(wrap_all(new_master, plain, aads), (k for k, _ in rows)))
                self._db.executemany("update data_keys set wrapped = ? where subject_id = ?", rewrapped)
                done, last = done + len(rows), rows[-1][0]
            self._db.execute("update meta set value = ? where name = 'master_key_id'", (new_master.key_id,))
        self._master = new_master
        if committed is not None:
            committed()
        self._db.execute("pragma wal_checkpoint(truncate)")
        if self._audit is not None:
            self._audit.append("master_key_rotated", now=now, count=done,
                               old_key_id=old.key_id, new_key_id=new_master.key_id)
        return done

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lookup(self, table: str, keys: list[bytes]) -> dict[bytes, object]:
        sql = f"select subject_id, {'wrapped' if table == 'data_keys' else 'shredded_at'} from {table}"
        # Asking for more ids than the table holds (a first load, the few tombstones): one scan
        # beats a probe per id.
        if self._db.execute(f"select count(*) from {table}").fetchone()[0] <= len(keys):
            wanted = set(keys)
            return {k: v for k, v in self._db.execute(sql) if k in wanted}
        return dict(self._in(sql, keys))

    def _in(self, sql: str, keys: list[bytes]) -> Iterator[tuple]:
        # Sorted keys in chunks walk the B-tree in order: a million ids take seconds, not minutes.
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            yield from self._db.execute(f"{sql} where subject_id in ({','.join('?' * len(part))})", part)

    def _tx(self, write: bool = True) -> AbstractContextManager[None]:
        """One transaction on the store; a writer takes SQLite's write lock at once (``begin immediate``)."""
        return transaction(self._db, "begin immediate" if write else "begin")

