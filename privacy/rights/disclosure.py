"""The information of GDPR Art. 15(1)(a)-(h) and 15(2), derived from the classification and policy.

Nothing here is written by hand per request: purposes, categories, retention and sources come
from the columns the subject actually has rows in (the dbt YAML ``meta.privacy``), recipients,
rights and the authority from ``privacy/policy.yml``, and the logic of the profiling from the
marts' own dbt descriptions, so the answer cannot drift from what the code does (Art. 5(2)).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from privacy.audit import timestamp
from privacy.policy import Policy
from privacy.register import category
from privacy.rights import texts, values
from privacy.rights.consent import RESOLVED
from privacy.rights.warehouse import SUBJECT_COLUMN
from privacy.tables import LOAD_COLUMNS, Classification

if TYPE_CHECKING:
    from privacy.rights.access import Dataset

FIELDS = ("confirmation", "purposes", "categories", "recipients", "retention", "rights", "complaint",
          "sources", "profiling", "transfers")
_ARTICLES = dict(zip(FIELDS, ("15(1)", "15(1)(a)", "15(1)(b)", "15(1)(c)", "15(1)(d)", "15(1)(e)", "15(1)(f)",
                              "15(1)(g)", "15(1)(h)", "15(2)")))


def art15_information(datasets: list[Dataset], classification: Classification, policy: Policy, *,
                      request_id: str, now: datetime, views: list[str] = (),
                      erased: tuple[str, str] | None = None) -> dict:
    """``metadata.json`` of the access export: every Art. 15(1)-(2) field, each naming its article.

    ``erased``, for a subject with no rows left because we erased them: the (Dutch, English)
    statement of when, and of what is still kept and until when (Art. 15(1), 15(1)(d)), given
    instead of "we process no data about you"."""
    cols = [(d, c) for d in datasets if d.table for c in d.table.columns if c.name in d.columns]
    by_purpose, by_rule, by_category = defaultdict(set), defaultdict(set), defaultdict(list)
    unused = _without_consent(datasets, policy)
    stored = {p for d, c in cols if d.table.layer != "model" for p in c.purposes}  # of the subject's own records
    for d, c in cols:
        # A figure computed from the subject's records (a model: intermediate, mart) serves a purpose for
        # them only where those records do: a lead's pyramid tier serves no account management (Art. 15(1)(a)).
        for p in (set(c.purposes) & stored if d.table.layer == "model" else set(c.purposes)) - unused:
            by_purpose[p].add(d.name)
        if c.name not in LOAD_COLUMNS:  # our bookkeeping (file, line, batch): its rule is no period for your data
            by_rule[c.retention].add(d.name)
        by_category[category(d.table, c)].append(f"{d.name}.{c.name}")
    rows = sum(len(d.rows) for d in datasets)
    info = {
        "confirmation": {"personal_data_processed": bool(datasets or erased), "datasets": len(datasets), "rows": rows,
                         "statement": texts.both(texts.FOUND if datasets else erased or texts.NOT_FOUND)},
        "purposes": [_purpose(policy, p, sorted(by_purpose[p])) for p in sorted(by_purpose)],
        "categories": [{"category": k, "description": texts.both(texts.CATEGORIES.get(k, (k, k))),
                        "columns": sorted(v)} for k, v in sorted(by_category.items())],
        "recipients": [{"name": r["name"], "plain": _plain(r.get("plain"), r["name"]),
                        "purposes": sorted(set(r.get("purposes", [])) & set(by_purpose))}
                       for r in policy.recipients if set(r.get("purposes", [])) & set(by_purpose)],
        "retention": [_retention(policy, rule, sorted(names)) for rule, names in sorted(by_rule.items())]
                     + [{**_retention(policy, rule, [where[1]]), "kept_in": texts.both(where)}
                        for rule, where in texts.KEPT_ELSEWHERE.items() if rule in policy.retention and rule not in by_rule],
        "rights": {name: {"article": f"Art. {art} GDPR", **texts.both((nl, en)),
                          "how": f"{policy.controller.get('contact', '')} / {policy.dpo.get('contact', '')}"}
                   for name, (art, nl, en) in texts.RIGHTS.items()},
        "complaint": {"authority": policy.supervisory_authority, "article": "Art. 77 GDPR", **texts.both(texts.COMPLAINT)},
        "sources": [_source(d) for d in datasets],
        "profiling": profiling(classification, {d.name for d in datasets}),
        "transfers": {"outside_eea": policy.transfers_outside_eea, "article": "Art. 15(2), 46 GDPR",
                      "plain": _plain(policy.raw.get("transfers_outside_eea_plain"), policy.transfers_outside_eea)},
    }
    if not datasets:
        none = info["confirmation"]["statement"]
        info.update({k: [{"not_applicable": none}] for k in ("purposes", "categories", "recipients", "retention", "sources")})
    return {"request_id": request_id, "generated_at": timestamp(now), "controller": policy.controller,
            "data_protection_officer": policy.dpo,
            "art15": {k: {"article": _ARTICLES[k], "content": v} for k, v in info.items()},
            "datasets": [_dataset(d) for d in datasets], "codes": values.codes(datasets, policy),
            "derived_views": {"views": list(views), **texts.both(texts.VIEWS)}}


def _without_consent(datasets: list[Dataset], policy: Policy) -> set[str]:
    """The purposes based on consent (Art. 6(1)(a)) this subject's data is not used for, since none
    of their consent purposes is granted now (``int_consents_resolved``, which a withdrawal updates
    at once): a lead, for whom no consent is recorded, or a customer who never agreed or withdrew,
    is not told of them as purposes of their data (Art. 12(1), 15(1)(a))."""
    granted = {r["purpose"] for d in datasets if d.name == RESOLVED for r in d.rows if r.get("is_granted")}
    return {name for name, p in policy.purposes.items() if p.consent_based and not granted & set(p.consent_purposes)}


def profiling(classification: Classification, present: set[str]) -> dict:
    """Art. 15(1)(h): every mart with a result per subject, its logic in its own dbt description."""
    models = [t for t in classification if t.layer == "model" and str(t.path or "").startswith("models/marts/")
              and any(c.name == SUBJECT_COLUMN for c in t.columns)]
    return {"solely_automated_decisions": False, "statement": texts.both(texts.NO_SOLELY_AUTOMATED),
            "models": [{"model": t.name, "title": _plain(t.title, t.name), "logic": t.description,
                        "plain": _plain(t.plain, t.description),
                        "applies_to_you": f"marts.{t.name}" in present,
                        "purposes": list(t.column(SUBJECT_COLUMN).purposes),
                        "legal_basis": f"Art. {t.column(SUBJECT_COLUMN).legal_basis} GDPR",
                        "significance": [texts.both(texts.SIGNIFICANCE[p]) for p in t.column(SUBJECT_COLUMN).purposes
                                         if p in texts.SIGNIFICANCE]} for t in models]}


def _retention(policy: Policy, rule: str, datasets: list[str]) -> dict:
    r = policy.retention.get(rule)
    if r is None:
        return {"rule": rule, "datasets": datasets}
    return {"rule": rule, "description": r.description, "plain": _plain(r.plain, r.description),
            "duration_days": r.duration_days, "after": r.anchor, "then": r.action, "datasets": datasets}


def _purpose(policy: Policy, name: str, datasets: list[str]) -> dict:
    """A purpose with its legal basis, and under Art. 6(1)(f) the legitimate interest pursued
    (Art. 13(1)(d), 14(2)(b)): what the subject may weigh in an objection (Art. 21(1))."""
    p = policy.purposes.get(name)
    entry = {"purpose": name, "description": p.description if p else name, "plain": _plain(p and p.plain, name),
             "legal_basis": f"Art. {p.legal_basis if p else '?'} GDPR", "consent_based": bool(p and p.consent_based),
             "datasets": datasets}
    if p and p.legitimate_interest:
        entry["legitimate_interest"] = {"interest": p.legitimate_interest.get("interest", ""),
                                        "plain": _plain(p.legitimate_interest.get("plain"), p.description)}
    return entry


def _plain(plain: dict | None, fallback: str) -> dict[str, str]:
    """The clear-language text (``plain`` in the policy or a mart's meta, Art. 12(1)), else ``fallback``."""
    return {lang: (plain or {}).get(lang) or fallback for lang in texts.LANGUAGES}


def _source(d: Dataset) -> dict:
    t = d.table
    if t is not None and t.layer == "source":
        origin = texts.SOURCES.get(t.source or "", (t.source or "", t.source or ""))
        if ways := sorted({str(r["lead_source"]) for r in d.rows if r.get("lead_source")}):  # a lead: how we got it
            said = [texts.lead_source(w) or (f"'{w}'", f"'{w}'") for w in ways]
            origin = tuple(text.format("; ".join(s[i] for s in said)) for i, text in enumerate(texts.LEAD_ORIGIN))
        return {"dataset": d.name, "title": d.title, "source_system": t.source, "origin": texts.both(origin),
                "description": t.description}
    where = str(t.path) if t is not None and t.path else d.relation.schema
    return {"dataset": d.name, "title": d.title, "source_system": "klantkluis", "origin": texts.both(texts.DERIVED),
            "model": where}


def _dataset(d: Dataset) -> dict:
    cols, headings = {c.name: c for c in (d.table.columns if d.table else ())}, d.headings()
    return {"name": d.name, "title": d.title, "layer": d.relation.schema, "view": d.relation.is_view,
            "rows": len(d.rows), "description": d.table.description if d.table else "",
            "columns": [{"name": n, "title": headings[n],
                         **({"category": category(d.table, cols[n]), "purposes": list(cols[n].purposes),
                             "legal_basis": cols[n].legal_basis, "retention": cols[n].retention,
                             "description": cols[n].description} if n in cols else {})} for n in d.columns]}
