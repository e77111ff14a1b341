"""What every request handler shares: the outcome errors, the receipt, the re-publication."""

import time
from datetime import datetime, timezone
from pathlib import Path

from orchestration.publish import publish
from privacy.audit import timestamp
from privacy.rights import texts
from privacy.rights.package import write_json
from privacy.rights.purge import overwritten_when_replaced
from privacy.rights.requests import Request


class WarehouseBusy(Exception):
    """Another process (a dbt build) holds the warehouse; the request is tried again later."""


class Refused(Exception):
    """The request cannot be carried out; the message (field and rule names, never values) is the
    reason given to the subject (Art. 12(4))."""


def receipt(request: Request, now: datetime, article: str, **content) -> dict:
    """The common head of every receipt: what was asked, when, by whom (verified how), when due."""
    return {"request_id": request.request_id, "type": request.type, "article": article,
            "received_at": timestamp(request.received_at), "due_at": timestamp(request.due_at),
            "completed_at": timestamp(now), "identity_verified_by": request.verification, **content,
            "your_rights": {"complaint": texts.both(texts.COMPLAINT)}}


def write_receipt(outbox: Path, document: dict) -> str:
    """``outbox/<request id>.receipt.json`` (mode 0600); returns its path."""
    return str(write_json(outbox / f"{document['request_id']}.receipt.json", document))


def republish(paths) -> dict | None:
    """Publish the marts again so the BI copies follow the warehouse at once (Art. 17, 21(3));
    the bytes of the replaced copies are overwritten. None when nothing was published before."""
    current = paths.published / "marts.duckdb"
    if not current.exists() or not paths.warehouse.exists():
        return None
    parquet = paths.published / "parquet" / "current"
    old = [current, *(sorted(parquet.resolve().glob("*.parquet")) if parquet.exists() else [])]
    started = time.perf_counter()
    with overwritten_when_replaced(old):
        result = publish(paths.warehouse, paths.published, datetime.now(timezone.utc))
    return {"marts": len(result.tables), "seconds": round(time.perf_counter() - started, 3)}
