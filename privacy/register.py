"""The register of processing activities (GDPR Art. 30(1)), generated, never written by hand.

Built from the written policy (controller, purposes, recipients, retention, security measures)
and the column classification, so every purpose, legal basis and retention rule that the code
uses shows up in the register and the two cannot drift apart (Art. 5(2), 24(1)).
"""

from __future__ import annotations

import html
import os
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from privacy.audit import timestamp
from privacy.classification import staging_view
from privacy.policy import Policy
from privacy.purpose import COMPATIBILITY, LEGITIMATE_INTEREST, compatibility_exemption, further_processing
from privacy.rights.warehouse import SUBJECT_COLUMN
from privacy.tables import CATEGORIES, Classification, Column, Table

# A value that identifies no one by itself (an amount, a score, a segment) is still personal data
# on a row that carries a subject's pseudonymous id (Art. 4(1), 4(5), Recital 26).
LINKED = "linked_to_a_subject"
_PERSONAL = [c for c in CATEGORIES if c != "non_personal"] + [LINKED]
_MEANING = {
    "direct_identifier": "identifies a person by itself (name, e-mail, phone, address, bank account); "
                         "stored encrypted under the subject's own key",
    "quasi_identifier": "identifies a person together with other data (pseudonymous id, postcode area, "
                        "dates, an employee code)",
    "special_category": "special categories of personal data (Art. 9(1))",
    LINKED: "about a person through their pseudonymous id: orders and payments, consents, NPS scores, "
            "redacted texts, profiling results (Art. 4(5), Recital 26)",
}
_UNDEFINED = "(not defined in the policy)"
_BASES = {"6(1)(a)": "consent of the data subject", "6(1)(b)": "necessary for the performance of a contract",
          "6(1)(c)": "necessary for compliance with a legal obligation", "6(1)(d)": "vital interests",
          "6(1)(e)": "a task in the public interest", "6(1)(f)": "legitimate interests of the controller"}


def write_register(out_dir: str | os.PathLike[str], classification: Classification, policy: Policy,
                   *, now: datetime) -> tuple[Path, Path]:
    """Write ``register_of_processing.md`` and ``.html`` to ``out_dir`` (Art. 30(1), 30(3))."""
    sections = register_sections(classification, policy)
    title = f"Register of processing activities (Art. 30(1) GDPR): {policy.controller.get('name', '')}"
    note = (f"Generated {timestamp(now)} from {getattr(policy.path, 'name', 'the policy')} and the column "
            "classification in the dbt project. Do not edit: change the policy or the classification. "
            "Tables are named as in the warehouse; the staging views (stg_*) read the raw tables listed "
            "here and store nothing, so they are left out.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / "register_of_processing.md", out / "register_of_processing.html"
    md.write_text(_markdown(title, note, sections), encoding="utf-8")
    page.write_text(_html(title, note, sections), encoding="utf-8")
    return md, page


def register_sections(classification: Classification, policy: Policy) -> list[tuple[str, list[str], list[list[str]]]]:
    """The register as (title, headers, rows) sections, in the order of Art. 30(1)(a)-(g)."""
    cols = [(t, c) for t in classification if not staging_view(t) for c in t.columns]
    by_purpose, by_rule, bases = defaultdict(list), defaultdict(list), defaultdict(set)
    for t, c in cols:
        # str(): a malformed value (flagged by unclassified_columns) still shows up, unhashable or not.
        for p in map(str, c.purposes):
            by_purpose[p].append((t, c))
        by_rule[str(c.retention)].append((t, c))
    purposes = list(policy.purposes) + sorted(set(by_purpose) - set(policy.purposes))
    for p in purposes:  # each purpose under the one basis the policy gives it (Art. 6(1))
        bases[_basis(policy, p)].add(p)
    rules = list(policy.retention) + sorted(set(by_rule) - set(policy.retention))
    c_, d_ = policy.controller, policy.dpo
    return [
        ("Controller and data protection officer (Art. 30(1)(a))", ["Role", "Name", "Contact"], [
            ["Controller", c_.get("name", ""), f"{c_.get('address', '')}; {c_.get('contact', '')}"],
            ["Data protection officer", d_.get("name", ""), d_.get("contact", "")],
            ["Supervisory authority", policy.supervisory_authority, ""]]),
        ("Purposes of the processing and legal basis (Art. 30(1)(b), Art. 6)",
         ["Purpose", "Description", "Legal basis (policy)",
          "Legal bases its data was collected under (one that differs from the purpose's basis makes this use "
          "further processing: see Art. 6(4) below)", "Consent-based", "Data subjects", "Personal data"],
         [[p, _desc(policy.purposes, p), _basis(policy, p),
           ", ".join(sorted({str(c.legal_basis) for _, c in by_purpose[p]})),
           _consent(policy, p), _subjects(policy, by_purpose[p]), _data(by_purpose[p])] for p in purposes]),
        ("Legal bases in use (Art. 6(1), Art. 9(2))", ["Legal basis", "Meaning", "Purposes"],
         [[b, _BASES.get(b, ""), ", ".join(sorted(ps))] for b, ps in sorted(bases.items())]),
        ("Legitimate interests (Art. 6(1)(f), Art. 13(1)(d))", ["Purpose", *map(_heading, LEGITIMATE_INTEREST.values())],
         [[p, *(str(policy.purposes[p].legitimate_interest.get(k, _UNDEFINED)) for k in LEGITIMATE_INTEREST)]
          for p in purposes if "6(1)(f)" in _basis(policy, p)]),
        ("Further processing: compatibility with the purpose of collection (Art. 6(4))",
         ["Purpose", "Legal basis", "Data collected under", *map(_heading, COMPATIBILITY.values())],
         [_compatibility(policy, p, collected) for p, collected in further_processing(classification, policy).items()]),
        ("Categories of data subjects (Art. 30(1)(c))", ["Category", "Description", "Tables"],
         [[k, d, ", ".join(sorted({t.name for t, _ in cols if k in _kinds(t)}))]
          for k, d in policy.subject_categories.items()]),
        ("Categories of personal data (Art. 30(1)(c))", ["Category", "Meaning", "Columns"],
         [[cat, _MEANING.get(cat, ""), _cols([(t, c) for t, c in cols if category(t, c) == cat]) or "none"]
          for cat in _PERSONAL]),
        ("Recipients (Art. 30(1)(d))", ["Recipient", "Purposes"],
         [[r.get("name", ""), ", ".join(r.get("purposes") or [])] for r in policy.recipients]),
        ("Transfers to third countries (Art. 30(1)(e))", ["Transfers"], [[policy.transfers_outside_eea]]),
        ("Time limits for erasure (Art. 30(1)(f), Art. 5(1)(e))",
         ["Rule", "Description", "Retention", "Counted from", "Then", "Applies to"],
         [_rule(policy, r, by_rule[r]) for r in rules]),
        ("Consent purposes (Art. 7)", ["Consent purpose", "Description", "Needed by"],
         [[k, v, ", ".join(p.name for p in policy.purposes.values() if k in p.consent_purposes)
           or "no purpose: recorded only, nothing is processed on it"] for k, v in policy.consent_purposes.items()]),
        ("Technical and organisational security measures (Art. 30(1)(g), Art. 32(1))", ["Measure"],
         [[m] for m in policy.security_measures]),
    ]


def category(t: Table, c: Column) -> str:
    """The column's category in the register: ``LINKED`` for a value on a subject's row that is
    not personal by itself, else its classification."""
    if c.category == "non_personal" and any(x.name == SUBJECT_COLUMN for x in t.columns):
        return LINKED
    return str(c.category)


def _desc(items: dict, name: str) -> str:
    return items[name].description if name in items else _UNDEFINED


def _basis(policy: Policy, p: str) -> str:
    return policy.purposes[p].legal_basis if p in policy.purposes else _UNDEFINED


def _heading(text: str) -> str:
    return text[:1].upper() + text[1:]


def _compatibility(policy: Policy, p: str, collected: list[str]) -> list[str]:
    basis, exempt = policy.purposes[p].legal_basis, compatibility_exemption(policy.purposes[p].legal_basis)
    if exempt:
        return [p, basis, ", ".join(collected), f"no assessment needed: {exempt} (Art. 6(4))", *[""] * (len(COMPATIBILITY) - 1)]
    return [p, basis, ", ".join(collected), *(str(policy.purposes[p].compatibility.get(k, _UNDEFINED)) for k in COMPATIBILITY)]


def _consent(policy: Policy, p: str) -> str:
    purpose = policy.purposes.get(p)
    if purpose is None or not purpose.consent_based:
        return "no"
    return "yes: " + ", ".join(purpose.consent_purposes) if purpose.consent_purposes else "yes"


def _kinds(t: Table, columns: Iterable[Column] | None = None) -> set[str]:
    """The categories of data subjects a table's columns (all, or ``columns``) are about: free text
    redacted on ingest names third persons besides the subject; a column ``about`` another person
    (an employee code) names them."""
    columns = list(t.columns if columns is None else columns)
    kinds = {t.subject.kind} if t.subject else set()
    kinds |= {c.about for c in columns if c.about and category(t, c) in _PERSONAL}
    return kinds | ({"third_party"} if any(c.transform == "redact" for c in columns) else set())


def _subjects(policy: Policy, cols: list[tuple[Table, Column]]) -> str:
    kinds = set().union(*(_kinds(t, [c]) for t, c in cols if category(t, c) in _PERSONAL)) if cols else set()
    return ", ".join(policy.subject_categories.get(k, k) for k in sorted(kinds)) or "none (no personal data)"


def _cols(cols: list[tuple[Table, Column]]) -> str:
    grouped = defaultdict(list)
    for t, c in cols:
        grouped[t.name].append(c.name)
    return "; ".join(f"{t}: {', '.join(names)}" for t, names in grouped.items())


def _data(cols: list[tuple[Table, Column]]) -> str:
    parts = [f"{cat}: {_cols([(t, c) for t, c in cols if category(t, c) == cat])}" for cat in _PERSONAL
             if any(category(t, c) == cat for t, c in cols)]
    return " | ".join(parts) or "no personal data"


def _rule(policy: Policy, name: str, cols: list[tuple[Table, Column]]) -> list[str]:
    r = policy.retention.get(name)
    if r is None:
        return [str(name), _UNDEFINED, "", "", "", _cols(cols)]
    years = f" (about {r.duration_days / 365.25:.1f} years)" if r.duration_days >= 365 else ""
    span = f"{r.duration_days} days{years}"
    return [name, r.description, span, r.anchor, r.action, _cols(cols) or r.applies_to or "no classified columns"]


def _markdown(title: str, note: str, sections) -> str:
    out = [f"# {title}", "", f"_{note}_", ""]
    for heading, headers, rows in sections:
        out += [f"## {heading}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows] + [""]
    return "\n".join(out)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _html(title: str, note: str, sections) -> str:
    e = html.escape
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:80em;margin:2em auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #999;padding:.3em;vertical-align:top;text-align:left}</style></head><body>",
           f"<h1>{e(title)}</h1>", f"<p><em>{e(note)}</em></p>"]
    for heading, headers, rows in sections:
        out += [f"<h2>{e(heading)}</h2>", "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>"]
        out += ["<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in rows] + ["</table>"]
    return "\n".join(out + ["</body></html>", ""])
