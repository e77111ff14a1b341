"""Purpose limitation of the marts, checked on the dbt manifest (Art. 5(1)(b), Art. 6(1), Art. 7).

Each mart declares one purpose (`meta.purpose`). It may only hold columns classified for that
purpose, may only select columns whose upstream classification allows that purpose, and a mart
for a consent-based purpose must filter on effective consent (depend on the resolved consents).
The pseudonymous `subject_id` is the join key of every model, so its lineage is not followed.
"""

from collections.abc import Iterator

from privacy.policy import Policy
from privacy.tables import Finding

CONSENT_MODEL = "int_consents_resolved"
JOIN_KEY = "subject_id"


def _purposes(column: dict) -> set[str]:
    return set((column.get("meta") or {}).get("privacy", {}).get("purposes") or [])


def _marts(manifest: dict) -> Iterator[dict]:
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and "marts" in node["fqn"]:
            yield node


def purpose_violations(manifest: dict, policy: Policy) -> list[Finding]:
    """Every way a mart breaks the limitation to its declared purpose (Art. 5(1)(b))."""
    nodes = {**manifest["nodes"], **manifest.get("sources", {})}
    found: list[Finding] = []
    for mart in _marts(manifest):
        name, purpose = mart["name"], (mart.get("meta") or {}).get("purpose")
        if purpose not in policy.purposes:
            found.append(Finding(name, "*", f"declares no purpose of the policy (meta.purpose = {purpose!r})"))
            continue
        parents = [nodes[p] for p in mart["depends_on"]["nodes"] if p in nodes]
        if policy.purposes[purpose].consent_based and not any(p["name"] == CONSENT_MODEL for p in parents):
            found.append(Finding(name, "*", f"purpose {purpose} needs consent but the mart ignores {CONSENT_MODEL}"))
        for column in mart["columns"].values():
            if purpose not in _purposes(column):
                found.append(Finding(name, column["name"], f"not classified for the mart's purpose {purpose}"))
            if column["name"] == JOIN_KEY:
                continue
            for parent in parents:
                upstream = parent.get("columns", {}).get(column["name"])
                if upstream is not None and purpose not in _purposes(upstream):
                    found.append(Finding(name, column["name"], f"selects {parent['name']}.{column['name']}, "
                                                               f"which is not allowed for {purpose}"))
    return found
