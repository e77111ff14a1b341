"""Landing files past their retention (policy rule ``landing_files``, GDPR Art. 5(1)(e)).

A landing file is a source system's export as delivered: plain text with names, contact details,
IBANs and free text. Once its content is in the raw layer (encrypted, pseudonymised, redacted)
the plain copy serves only a reload, so it is kept ``duration_days`` after the first load of that
content and then removed by the source's ingest step, its bytes overwritten first. A file whose
content changed is loaded again first and counts from that load. The raw layer keeps its rows,
and the load ledger (``raw._batches``) its counts.
"""

from datetime import datetime, timedelta
from pathlib import Path

from orchestration.ingest.schema import LATEST_LOAD_FIRST
from privacy.policy import Policy
from privacy.rights.purge import overwritten_when_replaced

RULE = "landing_files"


def expired(con, source: str, files: list[Path], policy: Policy, now: datetime) -> list[Path]:
    """The ``files`` whose current content was first loaded longer ago than the rule allows.

    Pass only files loaded or found unchanged in this run: their latest batch is their content."""
    rule = policy.retention.get(RULE)
    if rule is None or not files:
        return []
    marks = ", ".join("?" * len(files))
    names = {r[0] for r in con.execute(
        f"with latest as (select file, sha256 from raw._batches where source = ? and file in ({marks}) "
        f"qualify row_number() over (partition by file order by {LATEST_LOAD_FIRST}) = 1) "
        "select b.file from raw._batches b join latest on b.file = latest.file and b.sha256 = latest.sha256 "
        "where b.source = ? group by b.file having min(b.loaded_at) < ?",
        [source, *(p.name for p in files), source, now - timedelta(days=rule.duration_days)]).fetchall()}
    return [p for p in files if p.name in names]


def remove(paths: list[Path], source: str, audit, now: datetime) -> tuple[list[Path], list[Path]]:
    """Overwrite and delete ``paths``; returns (removed, not removable for lack of permission).
    Each removal is in the audit log with the source and the file name, never its content."""
    removed, refused = [], []
    for path in paths:
        try:
            with overwritten_when_replaced([path]):
                path.unlink()
        except PermissionError:
            refused.append(path)
            continue
        removed.append(path)
        audit.append("landing_file_removed", now=now, source=source, file=path.name, rule=RULE)
    return removed, refused
