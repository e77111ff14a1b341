"""Column classification, read from the dbt YAML files where it is declared (``meta.privacy``).

Every column of every source, model and snapshot carries its category, purposes, legal basis
and retention rule in one place. The checks here let the build fail on an unclassified column
(Art. 5(1)(b), (c), (e); Art. 30(1)(c)) or a direct identifier reaching the marts (Art. 25(1)).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import yaml

from privacy.policy import Policy, load_policy, valid_legal_basis
from privacy.rights.texts import LANGUAGES, SOURCES as ORIGINS
from privacy.rights.warehouse import SUBJECT_COLUMN
from privacy.tables import ANONYMISE, CATEGORIES, LOAD_COLUMNS, TRANSFORMS, Classification, Column, Finding, Subject, Table

__all__ = ["CATEGORIES", "LOAD_COLUMNS", "TRANSFORMS", "Classification", "Column", "Finding", "Subject", "Table",
           "load_classification", "load_seeds", "load_policy", "unclassified_columns", "direct_identifiers_exposed",
           "unprotected_direct_identifiers", "undeclared_columns"]

_LAYERS = {"sources": "source", "models": "model", "snapshots": "snapshot"}


def load_classification(dbt_project_dir: str | os.PathLike[str]) -> Classification:
    """Every table and column declared in the YAML under ``models/`` and ``snapshots/`` (Art. 30)."""
    root = Path(dbt_project_dir)
    tables, code = [], {}
    for folder in ("models", "snapshots"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".sql", ".py"):
                code[path.stem] = path
            elif path.suffix in (".yml", ".yaml"):
                tables += _tables(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, path, root)
    declared = {t.name for t in tables if t.layer != "source"}
    tables = [replace(t, path=code[t.name].relative_to(root)) if t.layer != "source" and t.name in code
              else t for t in tables]
    return Classification(root, tuple(tables), tuple(p.relative_to(root) for n, p in code.items() if n not in declared))


def load_seeds(dbt_project_dir: str | Path) -> list[Table]:
    """The dbt seeds' classification (``seeds/*.yml``: configuration tables), which
    ``load_classification`` leaves out as no subject's data (Art. 30(1)(c))."""
    tables = []
    for path in sorted((Path(dbt_project_dir) / "seeds").glob("*.yml")):
        for seed in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("seeds") or []:
            tables.append(Table(seed["name"], "seed", tuple(_column(c) for c in seed.get("columns") or []),
                                description=(seed.get("description") or "").strip()))
    return tables


def unclassified_columns(classification: Classification, policy: Policy | None = None) -> list[Finding]:
    """Columns lacking a valid category, purposes, legal basis or retention rule (Art. 5, 6, 30),
    tables without columns, models or snapshots declared in no YAML file, and tables of subjects'
    rows and their columns without a title for the access export (Art. 12(1)), and a subject_id
    not classified as the quasi-identifier it is."""
    policy = policy or load_policy()
    found = [Finding(p.stem, "*", f"{p} is declared in no YAML file") for p in classification.undeclared]
    for t in classification:
        if not t.columns:
            found.append(Finding(t.name, "*", "no columns declared"))
        if t.subject and t.subject.kind not in policy.subject_categories:
            found.append(Finding(t.name, "*", f"subject kind {t.subject.kind!r} is not in the policy"))
        if t.layer == "source" and t.subject and t.source not in ORIGINS:
            found.append(Finding(t.name, "*", f"source system {t.source!r} has no origin text for the access export "
                                 "(Art. 15(1)(g)): add it to SOURCES in privacy/rights/texts.py, in nl and en"))
        names = [c.name for c in t.columns]
        found += [Finding(t.name, n, "declared twice") for n in sorted(set(names)) if names.count(n) > 1]
        if SUBJECT_COLUMN in names and not staging_view(t):
            found += [Finding(t.name, name, f"no meta.title in nl and en: its {what} in a subject's access export")
                      for name, title, what in [("*", t.title, "heading")] + [(c.name, c.title, "column heading")
                                                                             for c in t.columns]
                      if not all(title.get(lang) for lang in LANGUAGES)]
        found += [Finding(t.name, c.name, why) for c in t.columns for why in _problems(c, policy)]
        found += [Finding(t.name, SUBJECT_COLUMN, "a pseudonymous id is personal data (Art. 4(5)): category "
                          "quasi_identifier") for c in t.columns
                  if c.name == SUBJECT_COLUMN and c.category != "quasi_identifier"]
    return found


def staging_view(t: Table) -> bool:
    """A staging model: a view over a raw table that stores nothing; an access export names it but
    does not copy it (see privacy.rights), the register leaves it out."""
    return t.layer == "model" and str(t.path or "").startswith("models/staging/")


def direct_identifiers_exposed(classification: Classification) -> list[Finding]:
    """Direct identifiers in the marts, models under ``models/marts/`` (Art. 25(1), 32(1)(a))."""
    return [Finding(t.name, c.name, f"direct identifier in {t.path}") for t in classification
            if t.layer == "model" and str(t.path).startswith("models/marts/")
            for c in t.columns if c.category == "direct_identifier"]


def unprotected_direct_identifiers(classification: Classification) -> list[Finding]:
    """Raw-layer direct identifiers the ingest would store in the clear (Art. 32(1)(a))."""
    return [Finding(t.name, c.name, f"direct identifier stored with transform {c.transform!r}")
            for t in classification if t.layer == "source"
            for c in t.columns if c.category == "direct_identifier" and c.transform != "encrypt"]


def undeclared_columns(table: Table, actual: Iterable[str]) -> list[Finding]:
    """Warehouse columns missing from the YAML, and declared columns missing from the warehouse."""
    actual, declared = list(actual), {c.name for c in table.columns}
    return ([Finding(table.name, a, "in the warehouse but not classified") for a in actual if a not in declared]
            + [Finding(table.name, d, "classified but not in the warehouse") for d in sorted(declared - set(actual))])


def _problems(c: Column, policy: Policy) -> Iterator[str]:
    if c.category not in CATEGORIES:
        yield f"category {c.category!r} is not one of {CATEGORIES}"
    if not c.purposes:
        yield "no purposes"
    for p in c.purposes:
        if not isinstance(p, str) or p not in policy.purposes:
            yield f"purpose {p!r} is not defined in the policy"
    if not valid_legal_basis(c.legal_basis, special=c.category == "special_category"):
        yield f"legal basis {c.legal_basis!r} is not a valid Art. 6(1) (and for special categories 9(2)) ground"
    if not isinstance(c.retention, str) or c.retention not in policy.retention:
        yield f"retention rule {c.retention!r} is not defined in the policy"
    if c.transform not in TRANSFORMS:
        yield f"ingest transform {c.transform!r} is not one of {TRANSFORMS}"
    if c.anonymise not in ANONYMISE:
        yield f"anonymise {c.anonymise!r} is not one of {ANONYMISE}"
    if c.about is not None and c.about not in policy.subject_categories:
        yield f"about {c.about!r} is not a subject category of the policy"


def _tables(doc: dict, path: Path, root: Path) -> list[Table]:
    out = []
    for key, layer in _LAYERS.items():
        for entry in doc.get(key) or []:
            for t in (entry.get("tables") or []) if layer == "source" else [entry]:
                subject = node_meta(t).get("subject") or {}
                out.append(Table(t["name"], layer, tuple(_column(c) for c in t.get("columns") or []),
                                 Subject(subject["kind"], subject["key"]) if subject else None,
                                 entry["name"] if layer == "source" else None, path.relative_to(root),
                                 (t.get("description") or "").strip(), dict(node_meta(t).get("plain") or {}),
                                 dict(node_meta(t).get("title") or {})))
    return out


def _column(c: dict) -> Column:
    meta = node_meta(c)
    privacy, ingest = meta.get("privacy") or {}, meta.get("ingest") or {}
    purposes = privacy.get("purposes") or ()
    return Column(c["name"], privacy.get("category"), (purposes,) if isinstance(purposes, str) else tuple(purposes),
                  privacy.get("legal_basis"), privacy.get("retention"), ingest.get("transform", "keep"),
                  ingest.get("from", c["name"]), (c.get("description") or "").strip(),
                  bool(ingest.get("optional", False)), privacy.get("anonymise", "clear"), privacy.get("about"),
                  dict(meta.get("title") or {}))


def node_meta(node: dict) -> dict:
    # dbt >= 1.10 prefers meta under config; both spellings are honoured, config winning.
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}
