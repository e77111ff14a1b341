"""Purpose limitation (Art. 5(1)(b), Art. 6(1), 6(4), Art. 7), checked on the dbt manifest and
the classification.

Each mart declares one purpose (`meta.purpose`). It may only hold columns classified for that
purpose, may only select or read (in a calculation, a filter, an ordering) columns whose upstream
classification allows that purpose, and a mart for a consent-based purpose must filter on effective
consent (depend on the resolved consents). The pseudonymous `subject_id` is the join key of every
model, so its lineage is not followed. What a mart reads is found by name in its SQL (comments
and its CTEs' own names aside): a column renamed in a parent model is judged by its classification
there.

The policy must also carry the assessments the law asks for before such a use: the legitimate
interest, necessity and balancing of a purpose under Art. 6(1)(f), and the compatibility of a
use of data collected under another basis (Art. 6(4)(a)-(e)).
"""

import re
from collections.abc import Iterator

from privacy.policy import Policy, Purpose
from privacy.tables import BOOKKEEPING, Classification, Finding

CONSENT_MODEL = "int_consents_resolved"
JOIN_KEY = "subject_id"
TECHNICAL_RULE = "metadata"  # the policy's rule for technical load records (file, line, batch, export time)


def _purposes(column: dict) -> set[str]:
    return set((column.get("meta") or {}).get("privacy", {}).get("purposes") or [])


def _read(sql: str) -> set[str]:
    """The names a model's SQL uses, without its comments, a table's name before its column
    (orders.revenue) and a CTE's name where it names the CTE (its definition, after from or join):
    the marts' CTE `orders` shares its name with the column orders its rows have."""
    sql = re.sub(r"--[^\n]*|\{#.*?#\}|/\*.*?\*/", " ", sql, flags=re.S).lower()
    ctes = sorted(set(re.findall(r"\b(\w+)\s+as\s*\(", sql)))
    sql = re.sub(r"\b[a-z_]\w*\s*\.(?=\s*[a-z_*])", " ", sql)
    if ctes:
        named = "|".join(map(re.escape, ctes))
        sql = re.sub(rf"\b(?:{named})\s+as\s*\(|\b(?:from|join)\s+(?:{named})\b", " ", sql)
    return set(re.findall(r"\b[a-z_][a-z0-9_]*\b", sql))


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
        upstream = {}  # column name -> the parents that have it, and whether one allows the purpose
        for parent in parents:
            for column in parent.get("columns", {}).values():
                names, allowed = upstream.get(column["name"], ([], False))
                upstream[column["name"]] = ([*names, parent["name"]], allowed or purpose in _purposes(column))
        for column in sorted(_read(mart.get("raw_code") or "") & set(upstream) - set(mart["columns"]) - {JOIN_KEY}):
            names, allowed = upstream[column]
            if not allowed:
                found.append(Finding(name, column, f"reads {column} (of {', '.join(sorted(names))}), which is not "
                                                   f"allowed for {purpose}"))
    return found


LEGITIMATE_INTEREST = {"interest": "the legitimate interest pursued",
                       "necessity": "why the processing is necessary for it",
                       "balancing": "its balance against the data subjects' interests and rights"}
COMPATIBILITY = {"link": "(a) the link between the purposes",
                 "context": "(b) the context of collection, the relation with the data subjects",
                 "nature": "(c) the nature of the data",
                 "consequences": "(d) the possible consequences for the data subjects",
                 "safeguards": "(e) the safeguards (encryption, pseudonymisation)"}


def further_processing(classification: Classification, policy: Policy,
                       manifest: dict | None = None) -> dict[str, list[str]]:
    """Per purpose of the policy, the legal bases its data was collected under besides the
    purpose's own: its use of that data is further processing (Art. 6(4)). The data are the columns
    classified for the purpose and, given the dbt manifest, what every source upstream of one of
    its marts collected (a satisfaction mart per segment uses the orders the segments come from),
    but for the technical load columns."""
    collected: dict[str, set[str]] = {p: set() for p in policy.purposes}
    for table in classification:
        for column in table.columns:
            for p in column.purposes:
                if p in collected:
                    collected[p].add(str(column.legal_basis))
    sources = {t.name: t for t in classification if t.layer == "source"}
    nodes = {**manifest["nodes"], **manifest.get("sources", {})} if manifest else {}
    for mart in _marts(manifest) if manifest else ():
        purpose = (mart.get("meta") or {}).get("purpose")
        if purpose not in collected:
            continue
        for name in _upstream_sources(mart, nodes) & set(sources):
            collected[purpose] |= {str(c.legal_basis) for c in sources[name].columns
                                   if c.name not in BOOKKEEPING and c.retention != TECHNICAL_RULE}
    return {p: sorted(bases - {policy.purposes[p].legal_basis}) for p, bases in collected.items()
            if bases - {policy.purposes[p].legal_basis}}


def _upstream_sources(node: dict, nodes: dict, seen: set[str] | None = None) -> set[str]:
    """The names of the sources a model reads, directly or through other models."""
    seen = set() if seen is None else seen
    found = set()
    for uid in (node.get("depends_on") or {}).get("nodes", []):
        if uid in seen or uid not in nodes:
            continue
        seen.add(uid)
        parent = nodes[uid]
        found |= {parent["name"]} if parent["resource_type"] == "source" else _upstream_sources(parent, nodes, seen)
    return found


def compatibility_exemption(purpose: Purpose) -> str | None:
    """Why Art. 6(4) asks no compatibility assessment of this purpose, if it does not: ``"consent"``,
    or ``"law"``: a legal obligation or public task (Art. 6(3)) whose law safeguards an objective of
    Art. 23(1), which the policy names (``compatibility.law``)."""
    if "6(1)(a)" in purpose.legal_basis:
        return "consent"
    if _by_law(purpose.legal_basis) and _text(purpose.compatibility.get("law")):
        return "law"
    return None


def _by_law(basis: str) -> bool:
    """A legal obligation or a public task: grounds laid down by law (Art. 6(3))."""
    return "6(1)(c)" in basis or "6(1)(e)" in basis


def assessment_gaps(classification: Classification, policy: Policy, manifest: dict | None = None) -> list[Finding]:
    """Purposes lacking the assessment the law asks of them: a legitimate interest (Art. 6(1)(f))
    without its interest, necessity, balancing or its words for data subjects (Art. 13(1)(d)), and a
    further processing not based on consent or law without every factor of Art. 6(4)(a)-(e)."""
    found = []
    further = further_processing(classification, policy, manifest)
    for name, purpose in policy.purposes.items():
        where = f"purposes.{name}"
        if "6(1)(f)" in purpose.legal_basis:
            assessed = purpose.legitimate_interest
            missing = [what for key, what in LEGITIMATE_INTEREST.items() if not _text(assessed.get(key))]
            plain = assessed.get("plain")
            if not isinstance(plain, dict) or not all(_text(plain.get(lang)) for lang in ("nl", "en")):
                missing.append("its plain words for data subjects in nl and en")
            if missing:
                found.append(Finding("policy", f"{where}.legitimate_interest",
                                     "Art. 6(1)(f) purpose without " + "; ".join(missing)))
        if name in further and compatibility_exemption(purpose) is None:
            missing = [what for key, what in COMPATIBILITY.items() if not _text(purpose.compatibility.get(key))]
            if missing:
                law = (" (or, for a legal obligation or public task, the objective of Art. 23(1) its law safeguards, "
                       "as compatibility.law)") if _by_law(purpose.legal_basis) else ""
                found.append(Finding("policy", f"{where}.compatibility",
                                     f"uses data collected under {', '.join(further[name])} (further processing, "
                                     f"Art. 6(4)) without " + "; ".join(missing) + law))
    return found


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
