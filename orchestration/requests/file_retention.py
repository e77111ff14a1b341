"""Request files past their retention rule (Art. 5(1)(e)): rejected documents and access exports.

Both hold personal data in plain text: a rejected document may name its sender, an access export
(Art. 15, 20) is all of a subject's data. Each is kept for as long as its rule in
``privacy/policy.yml`` says, counted from the request's completion, then overwritten and removed,
with an audit entry and a note in the ledger. ``RequestService.remove_expired`` runs this when the
inbox is read and in the daily retention sweep, so files also go when no request arrives.
"""

from datetime import datetime, timedelta
from pathlib import Path

from privacy.audit import timestamp

REJECTED = "rejected"  # <inbox>/rejected/<request id>.json
RULES = {"rejected_requests": "rejected_request_removed", "access_exports": "access_export_removed"}


def _files(service, rule: str) -> list[tuple[Path, dict]]:
    if rule == "rejected_requests":
        return [(service.paths.inbox / REJECTED / f"{r['request_id']}.json", r) for r in service.ledger.rows("rejected")]
    return [(Path(r["result_path"]), r) for r in service.ledger.rows("completed")
            if r["type"] == "access" and r["result_path"]]


def remove_expired(service, now: datetime) -> dict[str, int]:
    """Rule -> number of files removed because their rule ended before ``now``."""
    removed = {}
    for rule, event in RULES.items():
        policy_rule = service.policy.retention.get(rule)
        if policy_rule is None:
            continue
        cutoff, removed[rule] = now - timedelta(days=policy_rule.duration_days), 0
        for path, row in _files(service, rule):
            if row["completed_at"] and datetime.fromisoformat(row["completed_at"]) < cutoff and path.exists():
                service.discard(path)
                service.ledger.update_detail(row["request_id"], {"removed": {"at": timestamp(now), "rule": rule}})
                service.audit.append(event, now=now, request_id=row["request_id"], rule=rule)
                removed[rule] += 1
    return removed
