"""When the warehouse file is rewritten without the bytes that deleted or overwritten rows leave in
its free space (Art. 5(1)(e), 17, 32(1)(a)); the rewrite itself is ``privacy.rights.purge.compact``.

One state in ``<home>/state``: an encryption of columns an older version stored in plain text
marks a rewrite due at once (``compaction_due``, see ``encrypt_plain``); the retention sweep, a
reload of a changed landing file and a rectification record their deletions (``compaction.json``:
the time of the oldest one not rewritten out yet), and the sweep rewrites the file before the
policy's rule ``deleted_rows_in_file`` runs out; an erasure rewrites it at once. Every rewrite
clears both, so none is done twice.
"""

import json
from datetime import datetime

from orchestration.settings import Paths, connect_duckdb
from privacy.paths import private_dir, write_private
from privacy.rights.purge import compact

DUE_NOW = "compaction_due"  # marker: plain values were encrypted in place, rewrite before the next step
PENDING = "compaction.json"  # {"uncompacted_since": ISO time or ""}: deletions not rewritten out yet
LONG_AGO = "0001-01-01T00:00:00+00:00"


def mark_due_now(paths: Paths) -> None:
    """A rewrite is due before anything else reads the warehouse (set before the change commits)."""
    private_dir(paths.state)
    (paths.state / DUE_NOW).touch()


def due_now(paths: Paths) -> bool:
    return (paths.state / DUE_NOW).exists()


def uncompacted_since(paths: Paths) -> str:
    """The time of the oldest deletion not rewritten out yet; "" when none. An unreadable state
    counts as a deletion of long ago, so the next sweep rewrites the file."""
    state = paths.state / PENDING
    try:
        return json.loads(state.read_text()).get("uncompacted_since", "") if state.exists() else ""
    except (ValueError, AttributeError):
        return LONG_AGO


def record_deletion(paths: Paths, now: datetime) -> str:
    """Keep the time of the oldest deletion not rewritten out yet (``now`` if none); returns it."""
    since = uncompacted_since(paths) or now.isoformat()
    _write(paths, since)
    return since


def compact_if_due_now(paths: Paths) -> float | None:
    """Rewrite the warehouse if an encryption left plain values in it; the seconds it took, or None."""
    return compact_warehouse(paths)["seconds"] if due_now(paths) else None


def compact_warehouse(paths: Paths) -> dict:
    """Rewrite the warehouse without its deleted rows' bytes (exclusive access: WarehouseBusy
    otherwise) and clear what was pending; returns ``compact``'s sizes and seconds."""
    done = compact(paths.warehouse, connect_duckdb)
    (paths.state / DUE_NOW).unlink(missing_ok=True)
    if (paths.state / PENDING).exists():
        _write(paths, "")
    return done


def _write(paths: Paths, since: str) -> None:
    private_dir(paths.state)
    write_private(paths.state / PENDING, json.dumps({"uncompacted_since": since}))
