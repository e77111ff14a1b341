"""Hash-chained audit log of privacy operations (JSON Lines, outside the warehouse): entries are
only appended, and only `expire` removes the oldest, under the log's own retention rule.

Every entry carries the hash of the one before, so a changed, deleted, inserted or reordered
entry breaks the chain; a small head file holds the last sequence number and hash, so cutting
entries off the end is caught too. The accountability record of GDPR Art. 5(2) and a measure for
the integrity of processing (Art. 32(1)(b)); entries hold pseudonymous ids, counts, table names and
the account that acted, never values.

The log keeps to its own retention rule (Art. 5(1)(e)): `expire` cuts the oldest entries and
appends an entry recording where it cut (seq and hash), so the rest still verifies from there.

The chain is unkeyed: it proves integrity against accidents and casual edits. Against someone
who can rewrite both files, copy the head elsewhere (WORM storage, a ticket) from time to time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pwd
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from privacy.exceptions import AuditTampered
from privacy.paths import private_dir, state_dir

GENESIS = "0" * 64
EXPIRED = "audit_entries_expired"  # the entry `expire` appends: where the log was cut
_FIELDS = {"seq", "ts", "event", "actor", "details", "prev_hash", "hash"}
# Since 2026-12: when the entry was written (``ts`` is the time the operation is about, e.g. a
# run's logical time) and the operating-system account that wrote it. Older entries lack both.
_WRITTEN = {"recorded_at", "by"}
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
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problem: str | None = None


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
    """The audit trail of loads, key operations, decryptions and data subject requests."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else default_audit_path()
        self.head_path = self.path.with_name(self.path.name + ".head")

    def append(self, event: str, *, actor: str = "system", now: datetime | None = None, **details) -> dict:
        """Record one privacy operation (Art. 5(2), 30, 32(1)(b)); returns the written entry.

        ``details`` must be JSON-serialisable and free of plaintext personal data. The event that
        records an expiry is written by `expire` only.
        """
        if event == EXPIRED:
            raise ValueError(f"{EXPIRED!r} entries are written by AuditLog.expire only")
        with self._locked() as f:
            entry = self._entry(f, event, actor, now, details)
            _append_whole(f.fileno(), _canonical(entry) + b"\n")
            self._write_head(entry["seq"], entry["hash"])
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
            last = json.loads(lines[n - 1])
            entry = self._entry(f, EXPIRED, "system", now, {"rule": rule, "removed": n, "before": cut,
                                                             "through_seq": last["seq"], "through_hash": last["hash"]})
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                out.writelines(lines[n:])
                out.write(_canonical(entry) + b"\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            self._write_head(entry["seq"], entry["hash"])
        return n

    @contextmanager
    def _locked(self, shared: bool = False) -> Iterator:
        """The log file, open for appending and locked against other writers; or, ``shared``, open
        for reading while no one writes. One that waited while `expire` replaced the file opens the
        new one, so no entry lands in the old file and no reader takes the old file for the log."""
        if not shared:
            private_dir(self.path.parent)
        while True:
            flags = os.O_RDONLY if shared else os.O_RDWR | os.O_CREAT | os.O_APPEND
            fd = os.open(self.path, flags, 0o600)
            with os.fdopen(fd, "rb" if shared else "r+b") as f:
                fcntl.flock(f, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                try:
                    current = os.stat(self.path).st_ino == os.fstat(f.fileno()).st_ino
                except FileNotFoundError:
                    current = False
                if current:
                    yield f
                    return

    def _entry(self, f, event: str, actor: str, now: datetime | None, details: dict) -> dict:
        seq, prev = self._chain_end(f)
        entry = {"seq": seq + 1, "ts": timestamp(now), "recorded_at": timestamp(), "by": os_account(),
                 "event": event, "actor": actor, "details": details, "prev_hash": prev}
        entry["hash"] = _digest(entry)
        return entry

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
        """Check the whole chain and the head file (Art. 5(1)(f) integrity of the record). A log
        cut by `expire` starts after seq 1; it must start where one of its own expiry entries says.
        Read under a shared lock, so an append or an expiry running meanwhile is not taken for an edit."""
        if not self.path.exists():
            return self._verify()
        with self._locked(shared=True):
            return self._verify()

    def _verify(self) -> VerifyResult:
        prev, seq, n, last_prev, start, first_ts, cuts = GENESIS, 0, 0, None, None, "", set()
        for n_line, line in enumerate(self._lines(), 1):
            try:
                entry = json.loads(line)
            except ValueError:
                return VerifyResult(False, n, f"line {n_line}: not valid JSON")
            if not isinstance(entry, dict) or set(entry) not in (_FIELDS, _FIELDS | _WRITTEN):
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
            if entry["event"] == EXPIRED and start is not None and first_ts >= str(entry["details"].get("before")):
                # a cut is where expire stopped: the first entry it kept is not older than its bound
                cuts.add((entry["details"].get("through_seq"), entry["details"].get("through_hash")))
            prev, seq, n, last_prev = entry["hash"], seq + 1, n + 1, entry["prev_hash"]
        if start is not None and start not in cuts:
            return VerifyResult(False, n, f"the log starts at seq {start[0] + 1}, and no expiry entry records "
                                          f"a cut there: entries before it were deleted")
        head = self._read_head()
        if head is None:
            return VerifyResult(n == 0, n, None if n == 0 else "head file missing")
        # A crash between writing an entry and updating the head leaves the head one behind.
        if (head["seq"], head["hash"]) in {(seq, prev), (seq - 1, last_prev)}:
            return VerifyResult(True, n)
        return VerifyResult(False, n, f"log ends at seq {seq} but the head records seq {head['seq']}: "
                                      "entries removed from the end, or the head was replaced")

    def _lines(self) -> Iterator[bytes]:
        if self.path.exists():
            with open(self.path, "rb") as f:
                yield from f

    def _chain_end(self, f) -> tuple[int, str]:
        last, head = _last_line(f), self._read_head()
        if last is None and head is None:
            return 0, GENESIS
        try:
            entry = json.loads(last) if last is not None else {"seq": 0, "hash": GENESIS, "prev_hash": None}
        except ValueError:
            raise AuditTampered(f"the last line of {self.path} is not valid JSON") from None
        # The head may be one behind after a crash between the two writes of an append.
        if head is not None and head in ({"seq": entry["seq"], "hash": entry["hash"]},
                                         {"seq": entry["seq"] - 1, "hash": entry["prev_hash"]}):
            return entry["seq"], entry["hash"]
        raise AuditTampered(f"{self.path} does not end where {self.head_path.name} says; "
                            "run `klantkluis audit-verify` and investigate before appending (after a restore: "
                            "put back the log and its head from the same backup)")

    def _read_head(self) -> dict | None:
        try:
            return json.loads(self.head_path.read_bytes())
        except FileNotFoundError:
            return None

    def _write_head(self, seq: int, digest: str) -> None:
        # Written to a temporary file and renamed, so the head is never half old, half new.
        tmp = self.head_path.with_name(self.head_path.name + f".{os.getpid()}.tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(_canonical({"seq": seq, "hash": digest}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.head_path)


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
