"""Hash-chained audit log of privacy operations (JSON Lines, outside the warehouse): entries are
only appended, and only `expire` removes the oldest, under the log's own retention rule.

Every entry carries the hash of the one before, so a changed, deleted, inserted or reordered
entry breaks the chain; a small head file holds the last sequence number and hash, so cutting
entries off the end is caught too. The accountability record of GDPR Art. 5(2) and a measure for
the integrity of processing (Art. 32(1)(b)); entries hold pseudonymous ids, counts, table names and
the account that acted, never values.

The log keeps to its own retention rule (Art. 5(1)(e)): `expire` cuts the oldest entries and
appends an entry recording where it cut (seq and hash), so the rest still verifies from there.

The chain is keyed (Art. 32(1)(b)): every entry and the head carry an HMAC-SHA256 (``mac``) under
``audit.key`` in the key folder (``$KLANTKLUIS_KEY_DIR``, beside the master key; never in the
installation folder), so someone who can rewrite the log and its head but not read the key folder
cannot make a rewritten log verify. A log written before keying switches at its first append with
the key present: an ``audit_keyed`` entry, under its MAC, records the hash of the last unkeyed
entry, which freezes those before it; `verify` checks their hashes up to it and the MACs after it.
Once the key exists, a log or head without MACs is refused, never taken for an old one.

The key is made once, at that first keyed append, and never again for a keyed log: a missing or
wrong key is an error naming the fix (`KeyFileError`). It is staged as ``audit.key.new`` and moved
into place only once the log's head is keyed by it, the pattern `rotate_key` uses too; after a
stop at any point the log's own MACs say which of the two files holds its key. The MACs do not
stop a log and head being put back from an older copy of both, or the log cut back to where a
saved older head says: every MAC there is genuine. Against that, copy the head elsewhere (WORM
storage, a ticket) from time to time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pwd
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from privacy import _keys
from privacy.exceptions import AuditTampered, KeyFileError
from privacy.paths import fsync_dir, locked_file, private_dir, state_dir, write_private
from privacy.paths import key_dir as env_key_dir

GENESIS = "0" * 64
EXPIRED = "audit_entries_expired"  # the entry `expire` appends: where the log was cut
KEYED = "audit_keyed"  # the entry that switches a log written before keying to MACs
KEY_ROTATED = "audit_key_rotated"  # the entry `rotate_key` appends
KEY_FILE = "audit.key"
STAGED_KEY_FILE = "audit.key.new"  # a key being introduced (the switch, a rotation)
_WRITTEN_BY_LOG = {EXPIRED: "AuditLog.expire", KEYED: "AuditLog itself", KEY_ROTATED: "AuditLog.rotate_key"}
_FIELDS = {"seq", "ts", "event", "actor", "details", "prev_hash", "hash"}
# Since 2026-12: when the entry was written (``ts`` is the time the operation is about, e.g. a
# run's logical time) and the operating-system account that wrote it. Older entries lack both.
_WRITTEN = {"recorded_at", "by"}
_SHAPES = (_FIELDS, _FIELDS | _WRITTEN, _FIELDS | _WRITTEN | {"mac"})  # since 2026-12 too: the MAC
_PREFIX = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")  # the short --since/--until bounds: a year, month or day


def timestamp(now: datetime | None = None) -> str:
    """ISO 8601 UTC time of ``now`` (default: the current time); naive datetimes are refused."""
    now = datetime.now(timezone.utc) if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(timezone.utc))")
    return now.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def default_audit_path(environ: Mapping[str, str] | None = None) -> Path:
    """``<home>/state/audit.jsonl`` (see ``privacy.paths``), Art. 5(2)."""
    return state_dir(environ) / "audit.jsonl"


def _canonical(entry: dict) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(entry: dict) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k not in ("hash", "mac")})).hexdigest()


def _mac(key: bytes, record: dict) -> str:
    """HMAC-SHA256 of an entry or the head, over its canonical form without the MAC (Art. 32(1)(b))."""
    return hmac.new(key, _canonical({k: v for k, v in record.items() if k != "mac"}), hashlib.sha256).hexdigest()


def _mac_ok(key: bytes, record: dict) -> bool:
    return isinstance(record.get("mac"), str) and hmac.compare_digest(_mac(key, record), record["mac"])


def audit_key_id(key: bytes) -> str:
    """A public id of an audit key (keyed, so it reveals nothing of the key)."""
    return "audit-" + hmac.new(key, b"klantkluis audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class VerifyResult:
    """What `AuditLog.verify` found: whether the chain (and, keyed, its MACs) holds, over how many
    entries, and the first problem (Art. 5(2), 32(1)(b))."""
    ok: bool
    entries: int
    problem: str | None = None
    keyed: bool = False  # the head (and every entry since the switch) checked under audit.key


@dataclass(frozen=True)
class _Key:
    path: Path  # audit.key, or audit.key.new while it is being introduced
    secret: bytes = field(repr=False)

    @property
    def id(self) -> str:
        return audit_key_id(self.secret)


def _append_whole(fd: int, line: bytes) -> None:
    """Append ``line`` to the locked log, all of it or none: a disk that fills up halfway through
    the line would leave half an entry, and every later append would refuse the log as tampered
    (every run and request failing after the disk was freed). Written straight to the descriptor, so
    no buffer writes the rest after the file was cut back."""
    end = os.fstat(fd).st_size
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.ftruncate(fd, end)
        raise


class AuditLog:
    """The audit trail of loads, key operations, decryptions and data subject requests (Art. 5(2)).

    ``key_dir`` is the folder of ``audit.key``: by default the key folder the environment names
    for the key store and the master key (``privacy.paths.key_dir``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 key_dir: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else default_audit_path()
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.key_path = (Path(key_dir) if key_dir is not None else env_key_dir()) / KEY_FILE
        self.staged_key_path = self.key_path.with_name(STAGED_KEY_FILE)

    def append(self, event: str, *, actor: str = "system", now: datetime | None = None, **details) -> dict:
        """Record one privacy operation (Art. 5(2), 30, 32(1)(b)); returns the written entry.

        ``details`` must be JSON-serialisable and free of plaintext personal data. The events that
        record an expiry, the switch to keying and a key rotation are written by the log only.
        """
        if event in _WRITTEN_BY_LOG:
            raise ValueError(f"{event!r} entries are written by {_WRITTEN_BY_LOG[event]} only")
        with self._locked() as f:
            key = self._writing_key(f, now)
            entry = self._entry(f, event, actor, now, details, key)
            _append_whole(f.fileno(), _canonical(entry) + b"\n")
            self._write_head(entry["seq"], entry["hash"], key)
            self._settle(key)
        return entry

    def expire(self, before: datetime, *, rule: str, now: datetime | None = None) -> int:
        """Remove the entries older than ``before`` (storage limitation, Art. 5(1)(e)): the run of
        entries from the start whose ``ts`` is before it, so the log stays one unbroken chain. An
        entry is appended that records through which entry (seq and hash) the log was cut, and
        `verify` accepts a log that starts right after such a record. The file is replaced in one
        rename under the append lock: a crash leaves the old log or the new one, never a mix.
        Returns how many entries were removed. A log that does not verify is left as it is
        (AuditTampered): cutting it could remove the evidence."""
        cut = timestamp(before)
        with self._locked() as f:
            if not (result := self._verify()).ok:  # under this exclusive lock already
                raise AuditTampered(f"{self.path} does not verify ({result.problem}); no entries expired. "
                                    "Run klantkluis audit-verify and investigate first")
            f.seek(0)
            lines = f.read().splitlines(keepends=True)
            n = next((i for i, line in enumerate(lines) if json.loads(line)["ts"] >= cut), len(lines))
            if n == 0:
                return 0
            key = self._writing_key(f, now)  # a log from before keying switches first; its record is kept
            f.seek(0)
            lines = f.read().splitlines(keepends=True)
            last = json.loads(lines[n - 1])
            entry = self._entry(f, EXPIRED, "system", now, {"rule": rule, "removed": n, "before": cut,
                                                             "through_seq": last["seq"], "through_hash": last["hash"]},
                                key)
            write_private(self.path, lines[n:] + [_canonical(entry) + b"\n"])
            self._write_head(entry["seq"], entry["hash"], key)
            self._settle(key)
        return n

    def rotate_key(self, *, now: datetime | None = None) -> str:
        """A new audit key (Art. 32(1)(b)), after the log verified under the old one: every entry's
        MAC is computed anew under it and an entry records the change; returns the new key's id.
        The new key is staged as ``audit.key.new`` and moved over ``audit.key`` once the log and
        its head carry its MACs: a stop at any point leaves a log that verifies with the file
        that holds its key. The hashes, and so the chain, do not change."""
        with self._locked() as f:
            if not (result := self._verify()).ok:
                raise AuditTampered(f"{self.path} does not verify ({result.problem}); the audit key was not "
                                    "rotated. Run klantkluis audit-verify and investigate first")
            old = self._writing_key(f, now)
            self._settle(old)  # a key still staged from an earlier stop goes into place first
            old = _Key(self.key_path, old.secret)
            self.staged_key_path.unlink(missing_ok=True)  # staged by a rotation that changed nothing
            new = _Key(self.staged_key_path, _keys.load_or_create_key_file(self.staged_key_path))
            f.seek(0)
            lines = [json.loads(line) for line in f.read().splitlines()]
            rekeyed = [_canonical({**e, "mac": _mac(new.secret, e)} if "mac" in e else e) + b"\n" for e in lines]
            entry = self._entry(f, KEY_ROTATED, "system", now, {"from_key": old.id, "to_key": new.id}, new)
            write_private(self.path, rekeyed + [_canonical(entry) + b"\n"])
            self._write_head(entry["seq"], entry["hash"], new)
            self._settle(new)
        return new.id

    @contextmanager
    def _locked(self, shared: bool = False) -> Iterator:
        """The log file, open for appending and locked against other writers (``expire`` replaces it
        under this lock); or, ``shared``, open for reading while no one writes (``locked_file``)."""
        if not shared:
            private_dir(self.path.parent)
        with locked_file(self.path, shared=shared) as f:
            yield f

    def _entry(self, f, event: str, actor: str, now: datetime | None, details: dict, key: _Key) -> dict:
        seq, prev = self._chain_end(f, key)
        entry = {"seq": seq + 1, "ts": timestamp(now), "recorded_at": timestamp(), "by": os_account(),
                 "event": event, "actor": actor, "details": details, "prev_hash": prev}
        entry["hash"] = _digest(entry)
        entry["mac"] = _mac(key.secret, entry)
        return entry

    # -- the key -------------------------------------------------------------------------------

    def _present_keys(self) -> dict[str, _Key]:
        """audit.key and audit.key.new, those there are, by id."""
        found = {}
        for path in (self.key_path, self.staged_key_path):
            try:
                secret = _keys.read_key_file(path)
            except FileNotFoundError:
                continue
            except PermissionError:
                raise KeyFileError(f"{path} cannot be read: writing and verifying the audit log take read access "
                                   f"to the key folder {path.parent} (KLANTKLUIS_KEY_DIR)") from None
            found[audit_key_id(secret)] = _Key(path, secret)
        return found

    def _log_key(self, last: dict | None, head: dict | None) -> _Key | None:
        """The key the log is kept with: the one whose MAC its last entry carries, else the one its
        head names; None for a log (or head) from before keying. ``KeyFileError``, naming the fix,
        when that key is not in the key folder: a new key would never verify the log."""
        if not (last is not None and "mac" in last) and not (head is not None and "key" in head):
            return None
        present = self._present_keys()
        if last is not None and "mac" in last:
            if mine := next((k for k in present.values() if _mac_ok(k.secret, last)), None):
                return mine
        if head is not None and head.get("key") in present:
            return present[head["key"]]  # the last entry does not verify: `verify` says so
        kept = f"key {head['key']}" if head is not None and isinstance(head.get("key"), str) else "a key"
        fix = ("point KLANTKLUIS_KEY_DIR at this installation's key folder, restored from the key backup if need be "
               "(a new key would never verify the log, so none is made)")
        if not present:
            raise KeyFileError(f"{self.key_path} is missing, but the audit log {self.path} is kept with {kept}: {fix}")
        raise KeyFileError(f"{self.key_path} ({', '.join(present)}) is not the key the audit log {self.path} is kept "
                           f"with ({kept}): {fix}. If the key folder is the right one, the log or its head "
                           "was changed: run klantkluis audit-verify and investigate")

    def _unkeyed_problem(self) -> str | None:
        """Why a log without MACs is refused: audit.key exists, so the log had been keyed."""
        if self.key_path.exists():
            return (f"{self.key_path.name} exists but the log and its head carry no MACs: they were replaced or "
                    "rewritten without the key (or put back from a backup older than the log's switch to keying)")
        return None

    def _writing_key(self, f, now: datetime | None = None) -> _Key:
        """The key to write with (the caller holds the lock). A log from before keying switches:
        a key is staged, the head keyed at the last unkeyed entry, and an ``audit_keyed`` entry
        freezes the entries before it (its MAC covers their last hash)."""
        last, head = _parse_last(f, self.path), self._read_head()
        if (key := self._log_key(last, head)) is None:
            if problem := self._unkeyed_problem():
                raise AuditTampered(f"{self.path}: {problem}. Nothing was written; run klantkluis audit-verify and "
                                    f"investigate. If the log is as it should be (put back from such a backup, or a new "
                                    f"installation folder beside an older key folder), move {self.key_path} out of the "
                                    "key folder: the log then switches to a new key at its next entry")
            key = _Key(self.staged_key_path, _keys.load_or_create_key_file(self.staged_key_path))
            if last is not None:
                self._write_head(*self._chain_end(f, None), key)
        if last is not None and "mac" not in last:  # also after a stop right after the head was keyed
            seq, prev = self._chain_end(f, key)
            entry = self._entry(f, KEYED, "system", now, {"key": key.id, "unkeyed_through_seq": seq,
                                                            "unkeyed_through_hash": prev}, key)
            _append_whole(f.fileno(), _canonical(entry) + b"\n")
            self._write_head(entry["seq"], entry["hash"], key)
        return key

    def _settle(self, key: _Key) -> None:
        """Move a staged key into place once the head carries its MAC (the caller holds the lock)."""
        if key.path == self.staged_key_path:
            os.replace(self.staged_key_path, self.key_path)
            fsync_dir(self.key_path.parent)

    # -- reading and verifying ------------------------------------------------------------------

    def entries(self) -> Iterator[dict]:
        """The entries in order, for the privacy officer (Art. 5(2))."""
        return (json.loads(line) for line in self._lines())

    def matching(self, *, events: Iterable[str] = (), since: str | None = None, until: str | None = None,
                 mentioning: str | Iterable[str] | None = None) -> Iterator[dict]:
        """The entries answering "who did what, when" (Art. 5(2)): of the given events, with ``ts``
        from ``since`` up to ``until`` (ISO 8601: a date such as "2026-12-05", inclusive, or a time,
        UTC unless it has an offset; ValueError otherwise), naming
        ``mentioning`` (a pseudonymous subject id, a request id, a table or file name; or any of several)."""
        wanted, since, until = set(events), _moment(since), _moment(until)
        names = [mentioning] if isinstance(mentioning, str) else list(mentioning or [])
        for entry in self.entries():
            if wanted and entry["event"] not in wanted:
                continue
            if (since and entry["ts"] < since) or (until and entry["ts"][:len(until)] > until):
                continue
            if names:
                text = _canonical([entry["actor"], entry["details"]]).decode()
                if not any(n in text for n in names):
                    continue
            yield entry

    def verify(self) -> VerifyResult:
        """Check the whole chain, the MACs and the head file (Art. 5(1)(f), 32(1)(b) integrity of
        the record). A log cut by `expire` starts after seq 1; it must start where one of its own
        expiry entries says. Read under a shared lock, so an append or an expiry running meanwhile
        is not taken for an edit. ``KeyFileError`` when the log's key is missing or another one."""
        if not self.path.exists():
            return self._verify()
        with self._locked(shared=True):
            return self._verify()

    def _verify(self) -> VerifyResult:
        if self.path.exists():
            with open(self.path, "rb") as f:
                last = _parse_last(f, self.path, strict=False)
        else:
            last = None
        head = self._read_head()
        key = self._log_key(last, head)
        if key is None and (problem := self._unkeyed_problem()):
            return VerifyResult(False, 0, problem)
        prev, seq, n, last_prev, start, first_ts, cuts = GENESIS, 0, 0, None, None, "", set()
        keyed_from, last_keyed = None, False
        for n_line, line in enumerate(self._lines(), 1):
            try:
                entry = json.loads(line)
            except ValueError:
                return VerifyResult(False, n, f"line {n_line}: not valid JSON")
            if not isinstance(entry, dict) or set(entry) not in _SHAPES:
                return VerifyResult(False, n, f"line {n_line}: not an audit entry")
            if not isinstance(entry["seq"], int) or not isinstance(entry["details"], dict):
                return VerifyResult(False, n, f"line {n_line}: not an audit entry")
            if n == 0 and (entry["seq"], entry["prev_hash"]) != (1, GENESIS):
                start = (entry["seq"] - 1, entry["prev_hash"])  # checked against the expiry entries below
                seq, prev, first_ts = *start, entry["ts"]
            if entry["seq"] != seq + 1 or entry["prev_hash"] != prev:
                return VerifyResult(False, n, f"line {n_line}: chain broken at seq {entry['seq']} "
                                    f"(entry after seq {seq} deleted, inserted or reordered)")
            if _digest(entry) != entry["hash"]:
                return VerifyResult(False, n, f"line {n_line}: seq {seq + 1} was changed (hash mismatch)")
            if last_keyed := "mac" in entry:
                if key is None or not _mac_ok(key.secret, entry):
                    return VerifyResult(False, n, f"line {n_line}: seq {seq + 1} was changed (its MAC does not "
                                                  "match: rewritten without the audit key)")
                keyed_from = keyed_from or entry["seq"]
            elif keyed_from is not None:  # before the switch entries have no MAC; never after it
                return VerifyResult(False, n, f"line {n_line}: seq {seq + 1} has no MAC, though the log is keyed "
                                              f"from seq {keyed_from}: rewritten without the audit key")
            if entry["event"] == EXPIRED and start is not None and first_ts >= str(entry["details"].get("before")):
                # a cut is where expire stopped: the first entry it kept is not older than its bound
                cuts.add((entry["details"].get("through_seq"), entry["details"].get("through_hash")))
            prev, seq, n, last_prev = entry["hash"], seq + 1, n + 1, entry["prev_hash"]
        if start is not None and start not in cuts:
            return VerifyResult(False, n, f"the log starts at seq {start[0] + 1}, and no expiry entry records "
                                          f"a cut there: entries before it were deleted")
        if head is None:
            return VerifyResult(n == 0, n, None if n == 0 else "head file missing")
        if not self._head_ok(head, key):
            return VerifyResult(False, n, "the head file was changed: " + (
                "it carries no valid MAC under the log's key" if key is not None else "it is not a head file"))
        # A crash between writing an entry and updating the head leaves the head one behind; the
        # entry the head does not cover is then covered by its own MAC.
        at = (head["seq"], head["hash"])
        if at == (seq, prev) or (at == (seq - 1, last_prev) and (key is None or last_keyed)):
            return VerifyResult(True, n, keyed=key is not None)
        return VerifyResult(False, n, f"log ends at seq {seq} but the head records seq {head['seq']}: "
                                      "entries removed from the end, or the head was replaced")

    def _lines(self) -> Iterator[bytes]:
        if self.path.exists():
            with open(self.path, "rb") as f:
                yield from f

    def _chain_end(self, f, key: _Key | None) -> tuple[int, str]:
        last, head = _last_line(f), self._read_head()
        if last is None and head is None:
            return 0, GENESIS
        try:
            entry = json.loads(last) if last is not None else {"seq": 0, "hash": GENESIS, "prev_hash": None}
        except ValueError:
            raise AuditTampered(f"the last line of {self.path} is not valid JSON") from None
        # The head may be one behind after a crash between the two writes of an append; the entry
        # it does not cover must then carry its own MAC.
        if head is not None and self._head_ok(head, key):
            at = (head["seq"], head["hash"])
            if at == (entry["seq"], entry["hash"]) or (
                    at == (entry["seq"] - 1, entry["prev_hash"]) and (key is None or _mac_ok(key.secret, entry))):
                return entry["seq"], entry["hash"]
        raise AuditTampered(f"{self.path} does not end where {self.head_path.name} says; "
                            "run `klantkluis audit-verify` and investigate before appending (after a restore: "
                            "put back the log and its head from the same backup)")

    def _head_ok(self, head: dict, key: _Key | None) -> bool:
        """Whether the head is whole: without a MAC for a log from before keying; else with a MAC
        under the log's key, or under the other key in the folder (a rotation that stopped between
        replacing the log and its head)."""
        if key is None:
            return set(head) == {"seq", "hash"}
        if set(head) != {"seq", "hash", "key", "mac"}:
            return False
        signer = key if head["key"] == key.id else self._present_keys().get(head["key"])
        return signer is not None and _mac_ok(signer.secret, head)

    def _read_head(self) -> dict | None:
        try:
            head = json.loads(self.head_path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError:
            return {}  # not JSON: no head matches it
        return head if isinstance(head, dict) else {}

    def _write_head(self, seq: int, digest: str, key: _Key) -> None:
        head = {"seq": seq, "hash": digest, "key": key.id}
        head["mac"] = _mac(key.secret, head)
        write_private(self.head_path, [_canonical(head)])  # never half old, half new


def os_account() -> str:
    """The operating-system account writing the entry: the operator at a CLI, the service account
    of the Dagster daemon otherwise. From the process's user id, not $USER, which anyone can set."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # no name for this uid (a container, say)
        return f"uid {os.geteuid()}"


def _moment(text: str | None) -> str | None:
    """A --since/--until bound as ``ts`` is written (UTC, "T", microseconds); a date alone, or
    any shorter prefix such as "2026-12", stays a prefix; "30d" is 30 days before now."""
    if text and (days := re.fullmatch(r"(\d{1,5})d", text.strip())):
        return timestamp(datetime.now(timezone.utc) - timedelta(days=int(days[1])))
    if not text or len(text) <= 10:
        if text and not _PREFIX.fullmatch(text):
            raise ValueError(f"{text!r} is not a date prefix such as 2026, 2026-12 or 2026-12-05")
        return text
    moment = datetime.fromisoformat(text.replace(" ", "T"))
    return timestamp(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def _last_line(f) -> bytes | None:
    pos, chunk = f.seek(0, os.SEEK_END), b""
    while pos > 0 and chunk.count(b"\n") < 2:
        step = min(4096, pos)
        pos -= step
        f.seek(pos)
        chunk = f.read(step) + chunk
    lines = chunk.rstrip(b"\n").split(b"\n")
    return lines[-1] if lines[-1] else None


def _parse_last(f, path: Path, *, strict: bool = True) -> dict | None:
    """The log's last entry, None if it has none; one that is not JSON raises ``AuditTampered``
    (``strict``) or is None (`verify` then reports the line)."""
    last = _last_line(f)
    try:
        entry = json.loads(last) if last is not None else None
    except ValueError:
        entry = None
        if strict:
            raise AuditTampered(f"the last line of {path} is not valid JSON") from None
    return entry if isinstance(entry, dict) else None
