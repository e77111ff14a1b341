"""Landing files past their retention (policy rule ``landing_files``, GDPR Art. 5(1)(e)).

A landing file is a source system's export as delivered: plain text with names, contact details,
IBANs and free text. Once its content is in the raw layer (encrypted, pseudonymised, redacted)
the plain copy serves only a reload, so it is kept ``duration_days`` after the first load of that
content and then removed by the source's ingest step, its bytes overwritten first. A file whose
content changed is loaded again first and counts from that load; a file whose latest load failed
the expectations gate stays until it is fixed, since its data never fully reached the raw layer.
The raw layer keeps the rows; ``raw._landing_removed`` records each removal, so an empty landing
folder is told apart from a wrong path.
"""

import os
import stat
from datetime import datetime
from pathlib import Path

from orchestration.ingest.schema import LATEST_BATCHES
from privacy.policy import Policy
from privacy.rights.requests import is_request_batch
from privacy.rights.purge import overwritten_when_replaced

RULE = "landing_files"


def expired(con, source: str, files: list[Path], policy: Policy, now: datetime) -> list[tuple[Path, str, datetime]]:
    """(file, the SHA-256 it was loaded with, its first load) of the ``files`` whose current content
    was first loaded longer ago than the rule allows. Pass only files loaded or found unchanged in
    this run (their latest batch is their content) whose latest load passed the gate."""
    rule = policy.retention.get(RULE)
    if rule is None or not files:
        return []
    marks = ", ".join("?" * len(files))
    found = {file: (sha, first) for file, sha, first in con.execute(
        f"with latest as (select file, sha256 from {LATEST_BATCHES} where source = ? and file in ({marks})) "
        "select b.file, latest.sha256, min(b.loaded_at) from raw._batches b join latest on b.file = latest.file and b.sha256 = latest.sha256 "
        "where b.source = ? group by b.file, latest.sha256 having min(b.loaded_at) < ?",
        [source, *(p.name for p in files), source, rule.cutoff(now)]).fetchall()}
    return [(p, *found[p.name]) for p in files if p.name in found]


def remove(con, expired_files: list[tuple[Path, str, datetime]], source: str, content_key, audit,
           now: datetime) -> tuple[list[Path], list[Path]]:
    """Overwrite and delete each file still holding the content it was loaded with (``content_key``
    computes it, as the writer does); returns (removed, not removable). A file changed since it was
    read is left for the next run to load. Each removal is in ``raw._landing_removed`` and the
    audit log, with the source and the file name, never its content."""
    removed, refused = [], []
    for path, sha, first_loaded in expired_files:
        unlinked = False
        try:
            if content_key(path) != sha:
                continue  # written again since it was read: the next run loads it
            if not os.access(path.parent, os.W_OK | os.X_OK):
                raise PermissionError(path.parent)
            info = path.lstat()
            # Zero the bytes only when this is the file's one name and we may write it (never
            # through a symbolic link: what it points to is not ours to destroy).
            overwritten = stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and os.access(path, os.W_OK)
            with overwritten_when_replaced([path] if overwritten else []):
                path.unlink()
                unlinked = True
                # Recorded before the bytes are zeroed (seconds for a large export): a process stopped
                # meanwhile must not leave the file gone without its record, which every later run would
                # take for a file removed by hand, and once the source's other files went, for a source
                # with no export at all (its ingest step failing every run).
                removed.append(path)
                con.execute("insert into raw._landing_removed values (?, ?, ?, ?, ?)",
                            [source, path.name, first_loaded, now, overwritten])
                audit.append("landing_file_removed", now=now, source=source, file=path.name, rule=RULE,
                             overwritten=overwritten)
        except FileNotFoundError:
            if unlinked:
                raise
            continue
        except OSError:
            if unlinked:
                raise
            refused.append(path)
            continue
    return removed, refused


def landing_files_loaded(con, source: str) -> tuple[int, int]:
    """(landing files of ``source`` the load ledger knows, those of them not removed after their
    latest load). The consent events of data subject requests (req-*.csv) never lie in the landing
    zone, so they count as neither: once the consent exports were all removed after their retention
    period, a source with only request files left is not missing its export."""
    rows = con.execute(
        f"select file, exists (select 1 from raw._landing_removed r where r.source = l.source and r.file = l.file "
        f"and r.removed_at >= l.loaded_at) from {LATEST_BATCHES} l where l.source = ?", [source]).fetchall()
    files = [removed for file, removed in rows if not is_request_batch(file)]
    return len(files), sum(not removed for removed in files)
