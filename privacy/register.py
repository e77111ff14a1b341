"""The register of processing activities (GDPR Art. 30(1)), generated, never written by hand.

Built from the written policy (controller, purposes, recipients, retention, security measures)
and the column classification, so every purpose, legal basis and retention rule that the code
uses shows up in the register and the two cannot drift apart (Art. 5(2), 24(1)). Written in
English and in Dutch, the language of the Dutch supervisory authority, to which it is made
available on request (Art. 30(4)): the policy's texts given as ``{en: ..., nl: ...}`` appear in
Dutch, table and column names as in the warehouse.
"""

from __future__ import annotations

import html
import os
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from privacy.rights.readable import shown
from privacy.classification import staging_view
from privacy.policy import Policy
from privacy.purpose import COMPATIBILITY, LEGITIMATE_INTEREST, compatibility_exemption, further_processing
from privacy.rights.texts import cite_basis
from privacy.rights.warehouse import SUBJECT_COLUMN
from privacy.tables import CATEGORIES, Classification, Column, Table

# A value that identifies no one by itself (an amount, a score, a segment) is still personal data
# on a row that carries a subject's pseudonymous id (Art. 4(1), 4(5), Recital 26).
LINKED = "linked_to_a_subject"
_PERSONAL = [c for c in CATEGORIES if c != "non_personal"] + [LINKED]
FILES = {"en": "register_of_processing", "nl": "verwerkingsregister"}

# Every text of the register that is not the policy's, per language.
_LABELS = {
    "en": {
        "title": "Register of processing activities (Art. 30(1) GDPR)",
        "note": "Generated {when} from {policy} and the column classification in the dbt project. Do not edit: "
                "change the policy or the classification. Tables are named as in the warehouse; the staging views "
                "(stg_*) read the raw tables listed here and store nothing, so they are left out.",
        "other": ("In het Nederlands", "nl"),
        "sections": ("Controller and data protection officer (Art. 30(1)(a))",
                     "Purposes of the processing and legal basis (Art. 30(1)(b), Art. 6)",
                     "Legal bases in use (Art. 6(1), Art. 9(2))",
                     "Legitimate interests (Art. 6(1)(f), Art. 13(1)(d))",
                     "Further processing: compatibility with the purpose of collection (Art. 6(4))",
                     "Categories of data subjects (Art. 30(1)(c))",
                     "Categories of personal data (Art. 30(1)(c))",
                     "Recipients (Art. 30(1)(d))",
                     "Transfers to third countries (Art. 30(1)(e))",
                     "Time limits for erasure (Art. 30(1)(f), Art. 5(1)(e)); in whole days: what is dated day D goes in the "
                     "daily run on day D + the period; a row without the date its period counts from is kept until "
                     "that date is set, and the daily run warns about it once it is due",
                     "Consent purposes (Art. 7)",
                     "Technical and organisational security measures (Art. 30(1)(g), Art. 32(1))"),
        "roles": ("Role", "Name", "Contact", "Controller", "Data protection officer", "Supervisory authority"),
        "purposes": ("Purpose", "Description", "Legal basis (policy)",
                     "Legal bases its data was collected under (one that differs from the purpose's basis makes "
                     "this use further processing: see Art. 6(4) below)", "Consent-based", "Data subjects",
                     "Personal data"),
        "bases": ("Legal basis", "Meaning", "Purposes"),
        "interest": ("Purpose", *(h[:1].upper() + h[1:] for h in LEGITIMATE_INTEREST.values())),
        "further": ("Purpose", "Legal basis", "Data collected under", *(h[:1].upper() + h[1:] for h in COMPATIBILITY.values())),
        "subjects": ("Category", "Description", "Tables"),
        "categories": ("Category", "Meaning", "Columns"),
        "recipients": ("Recipient", "Purposes"),
        "transfers": ("Transfers",),
        "rules": ("Rule", "Description", "Retention", "Counted from", "Then", "Applies to"),
        "consents": ("Consent purpose", "Description", "Needed by"),
        "measures": ("Measure",),
        "meaning": {
            "direct_identifier": "identifies a person by itself (name, e-mail, phone, address, bank account); "
                                 "stored encrypted under the subject's own key",
            "quasi_identifier": "identifies a person together with other data (pseudonymous id, postcode area, "
                                "dates, an employee code)",
            "special_category": "special categories of personal data (Art. 9(1))",
            LINKED: "about a person through their pseudonymous id: orders and payments, consents, NPS scores, "
                    "redacted texts, profiling results (Art. 4(5), Recital 26)"},
        "basis": {"6(1)(a)": "consent of the data subject", "6(1)(b)": "necessary for the performance of a contract",
                  "6(1)(c)": "necessary for compliance with a legal obligation", "6(1)(d)": "vital interests",
                  "6(1)(e)": "a task in the public interest", "6(1)(f)": "legitimate interests of the controller"},
        "exempt": {"consent": "no assessment needed: based on the data subject's consent (Art. 6(4))",
                   "law": "no assessment needed: based on Union or Member State law that safeguards an objective of "
                          "Art. 23(1) (Art. 6(4))"},
        "action": {},
        "undefined": "(not defined in the policy)", "yes": "yes", "no": "no", "none": "none",
        "no_subjects": "none (no personal data)", "no_data": "no personal data",
        "outside": "outside the warehouse, by retention rule",
        "no_columns": "no classified columns", "no_purpose": "no purpose: recorded only, nothing is processed on it",
        "days": "{n} days", "years": " (about {y} years)",
    },
    "nl": {
        "title": "Register van verwerkingsactiviteiten (art. 30 lid 1 AVG)",
        "note": "Gegenereerd op {when} uit {policy} en de classificatie van de kolommen in het dbt-project. Niet "
                "bewerken: wijzig het beleid of de classificatie. Tabellen heten zoals in het warehouse; de "
                "staging-views (stg_*) lezen de ruwe tabellen die hier staan en slaan niets op, dus die ontbreken.",
        "other": ("In English", "en"),
        "sections": ("Verwerkingsverantwoordelijke en functionaris gegevensbescherming (art. 30 lid 1 onder a)",
                     "Doeleinden van de verwerking en grondslag (art. 30 lid 1 onder b, art. 6)",
                     "Gebruikte grondslagen (art. 6 lid 1, art. 9 lid 2)",
                     "Gerechtvaardigde belangen (art. 6 lid 1 onder f, art. 13 lid 1 onder d)",
                     "Verdere verwerking: verenigbaarheid met het doel van verzameling (art. 6 lid 4)",
                     "Categorieën van betrokkenen (art. 30 lid 1 onder c)",
                     "Categorieën van persoonsgegevens (art. 30 lid 1 onder c)",
                     "Ontvangers (art. 30 lid 1 onder d)",
                     "Doorgifte aan derde landen (art. 30 lid 1 onder e)",
                     "Termijnen voor wissing (art. 30 lid 1 onder f, art. 5 lid 1 onder e); in hele dagen: wat van dag D "
                     "dateert, verdwijnt in de dagelijkse run op dag D + de termijn; een rij zonder de datum waarop "
                     "de termijn ingaat, blijft bewaard tot die datum is ingevuld, en de dagelijkse run waarschuwt "
                     "ervoor zodra die had moeten zijn ingevuld",
                     "Doelen van toestemming (art. 7)",
                     "Technische en organisatorische beveiligingsmaatregelen (art. 30 lid 1 onder g, art. 32 lid 1)"),
        "roles": ("Rol", "Naam", "Contact", "Verwerkingsverantwoordelijke", "Functionaris gegevensbescherming",
                  "Toezichthoudende autoriteit"),
        "purposes": ("Doel", "Omschrijving", "Grondslag (beleid)",
                     "Grondslagen waaronder de gegevens zijn verzameld (wijkt er een af van de grondslag van het "
                     "doel, dan is dit gebruik verdere verwerking: zie art. 6 lid 4 hieronder)",
                     "Gebaseerd op toestemming", "Betrokkenen", "Persoonsgegevens"),
        "bases": ("Grondslag", "Betekenis", "Doeleinden"),
        "interest": ("Doel", "Het nagestreefde gerechtvaardigde belang", "Waarom de verwerking daarvoor nodig is",
                     "De afweging tegen de belangen en rechten van de betrokkenen"),
        "further": ("Doel", "Grondslag", "Gegevens verzameld onder", "(a) Het verband tussen de doeleinden",
                    "(b) Het kader van verzameling, de verhouding met de betrokkenen", "(c) De aard van de gegevens",
                    "(d) De mogelijke gevolgen voor de betrokkenen",
                    "(e) De waarborgen (versleuteling, pseudonimisering)"),
        "subjects": ("Categorie", "Omschrijving", "Tabellen"),
        "categories": ("Categorie", "Betekenis", "Kolommen"),
        "recipients": ("Ontvanger", "Doeleinden"),
        "transfers": ("Doorgifte",),
        "rules": ("Regel", "Omschrijving", "Bewaartermijn", "Gerekend vanaf", "Daarna", "Geldt voor"),
        "consents": ("Doel van toestemming", "Omschrijving", "Nodig voor"),
        "measures": ("Maatregel",),
        "meaning": {
            "direct_identifier": "identificeert een persoon op zichzelf (naam, e-mail, telefoon, adres, "
                                 "bankrekening); versleuteld opgeslagen onder de eigen sleutel van de betrokkene",
            "quasi_identifier": "identificeert een persoon samen met andere gegevens (pseudoniem, postcodegebied, "
                                "datums, een personeelscode)",
            "special_category": "bijzondere categorieën van persoonsgegevens (art. 9 lid 1)",
            LINKED: "over een persoon via diens pseudoniem: bestellingen en betalingen, toestemmingen, NPS-scores, "
                    "teksten waarin persoonsgegevens zijn afgeschermd, uitkomsten van profilering (art. 4 punt 5, overweging 26)"},
        "basis": {"6(1)(a)": "toestemming van de betrokkene", "6(1)(b)": "noodzakelijk voor de uitvoering van een "
                  "overeenkomst", "6(1)(c)": "noodzakelijk om te voldoen aan een wettelijke verplichting",
                  "6(1)(d)": "vitale belangen", "6(1)(e)": "een taak van algemeen belang",
                  "6(1)(f)": "gerechtvaardigde belangen van de verwerkingsverantwoordelijke"},
        "exempt": {"consent": "geen beoordeling nodig: gebaseerd op toestemming van de betrokkene (art. 6 lid 4)",
                   "law": "geen beoordeling nodig: gebaseerd op Unierecht of lidstatelijk recht dat een doel van "
                          "art. 23 lid 1 waarborgt (art. 6 lid 4)"},
        "action": {"delete": "verwijderen", "anonymise": "anonimiseren", "compact": "bestand herschrijven",
                   "rebuild": "opnieuw opbouwen"},
        "undefined": "(niet omschreven in het beleid)", "yes": "ja", "no": "nee", "none": "geen",
        "no_subjects": "geen (geen persoonsgegevens)", "no_data": "geen persoonsgegevens",
        "outside": "buiten het warehouse, per bewaarregel",
        "no_columns": "geen geclassificeerde kolommen", "no_purpose": "geen doel: alleen vastgelegd, er wordt "
                                                                      "niets op verwerkt",
        "days": "{n} dagen", "years": " (ongeveer {y} jaar)",
    },
}


def write_register(out_dir: str | os.PathLike[str], classification: Classification, policy: Policy,
                   *, now: datetime, manifest: dict | None = None) -> dict[str, tuple[Path, Path]]:
    """Write the register as Markdown and HTML in English (``register_of_processing``) and in Dutch
    (``verwerkingsregister``) to ``out_dir`` (Art. 30(1), 30(3)); returns {language: (md, html)}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for lang, stem in FILES.items():
        L = _LABELS[lang]
        sections = register_sections(classification, policy, lang, manifest)
        title = f"{L['title']}: {policy.controller.get('name', '')}"
        note = L["note"].format(when=shown(now, lang), policy=getattr(policy.path, "name", "policy.yml"))
        md, page = out / f"{stem}.md", out / f"{stem}.html"
        md.write_text(_markdown(title, note, sections), encoding="utf-8")
        page.write_text(_html(title, note, sections, lang), encoding="utf-8")
        written[lang] = md, page
    return written


def register_sections(classification: Classification, policy: Policy, lang: str = "en",
                      manifest: dict | None = None) -> list[tuple[str, list[str], list[list[str]]]]:
    """The register as (title, headers, rows) sections in ``lang``, in the order of Art. 30(1)(a)-(g);
    with the dbt ``manifest``, further processing also counts what the marts' upstream sources
    collected (see ``privacy.purpose.further_processing``)."""
    L, t_ = _LABELS[lang], (lambda text: policy.text(text, lang))
    cols = [(t, c) for t in classification if not staging_view(t) for c in t.columns]
    by_purpose, by_rule, bases = defaultdict(list), defaultdict(list), defaultdict(set)
    for t, c in cols:
        # str(): a malformed value (flagged by unclassified_columns) still shows up, unhashable or not.
        for p in map(str, c.purposes):
            by_purpose[p].append((t, c))
        by_rule[str(c.retention)].append((t, c))
    purposes = list(policy.purposes) + sorted(set(by_purpose) - set(policy.purposes))
    for p in purposes:  # each purpose under the one basis the policy gives it (Art. 6(1))
        bases[_basis(policy, p, L)].add(p)
    rules = list(policy.retention) + sorted(set(by_rule) - set(policy.retention))
    outside = {p: _outside(policy, p) for p in purposes}
    c_, d_, roles, s = policy.controller, policy.dpo, L["roles"], L["sections"]
    return [
        (s[0], list(roles[:3]), [
            [roles[3], c_.get("name", ""), f"{c_.get('address', '')}; {c_.get('contact', '')}"],
            [roles[4], d_.get("name", ""), d_.get("contact", "")],
            [roles[5], policy.supervisory_authority, ""]]),
        (s[1], list(L["purposes"]),
         [[p, t_(policy.purposes[p].description) if p in policy.purposes else L["undefined"],
           cite_basis(_basis(policy, p, L), lang), cite_basis(", ".join(sorted({str(c.legal_basis) for _, c in by_purpose[p]})), lang),
           _consent(policy, p, L), _subjects(policy, by_purpose[p], L, lang, outside[p]),
           _data(by_purpose[p], L, outside[p])] for p in purposes]),
        (s[2], list(L["bases"]),
         [[cite_basis(b, lang), L["basis"].get(b, ""), ", ".join(sorted(ps))] for b, ps in sorted(bases.items())]),
        (s[3], list(L["interest"]),
         [[p, *(t_(str(policy.purposes[p].legitimate_interest.get(k, L["undefined"]))) for k in LEGITIMATE_INTEREST)]
          for p in purposes if "6(1)(f)" in _basis(policy, p, L)]),
        (s[4], list(L["further"]),
         [_compatibility(policy, p, collected, L, lang) for p, collected in further_processing(classification, policy, manifest).items()]),
        (s[5], list(L["subjects"]),
         [[k, t_(d), "; ".join(filter(None, (", ".join(sorted({t.name for t, _ in cols if k in _kinds(t)})), _records(
             L, [r for r in policy.retention.values() if k in r.subjects]))))]
          for k, d in policy.subject_categories.items()]),
        (s[6], list(L["categories"]),
         [[cat, L["meaning"].get(cat, ""), _cols([(t, c) for t, c in cols if category(t, c) == cat]) or L["none"]]
          for cat in _PERSONAL]),
        (s[7], list(L["recipients"]),
         [[t_(r.get("name", "")), ", ".join(r.get("purposes") or [])] for r in policy.recipients]),
        (s[8], list(L["transfers"]), [[t_(policy.transfers_outside_eea)]]),
        (s[9], list(L["rules"]), [_rule(policy, r, by_rule[r], L, lang) for r in rules]),
        (s[10], list(L["consents"]),
         [[k, t_(v), ", ".join(p.name for p in policy.purposes.values() if k in p.consent_purposes) or L["no_purpose"]]
          for k, v in policy.consent_purposes.items()]),
        (s[11], list(L["measures"]), [[t_(m)] for m in policy.security_measures]),
    ]


def category(t: Table, c: Column) -> str:
    """The column's category in the register: ``LINKED`` for a value on a subject's row that is
    not personal by itself, else its classification."""
    if c.category == "non_personal" and any(x.name == SUBJECT_COLUMN for x in t.columns):
        return LINKED
    return str(c.category)


def _basis(policy: Policy, p: str, L: dict) -> str:
    return policy.purposes[p].legal_basis if p in policy.purposes else L["undefined"]


def _compatibility(policy: Policy, p: str, collected: list[str], L: dict, lang: str) -> list[str]:
    purpose = policy.purposes[p]
    head = [p, cite_basis(purpose.legal_basis, lang), cite_basis(", ".join(collected), lang)]
    if exempt := compatibility_exemption(purpose):
        said = L["exempt"][exempt] + (f": {policy.text(purpose.compatibility['law'], lang)}" if exempt == "law" else "")
        return [*head, said, *[""] * (len(COMPATIBILITY) - 1)]
    return [*head, *(policy.text(str(purpose.compatibility.get(k, L["undefined"])), lang) for k in COMPATIBILITY)]


def _consent(policy: Policy, p: str, L: dict) -> str:
    purpose = policy.purposes.get(p)
    if purpose is None or not purpose.consent_based:
        return L["no"]
    return f"{L['yes']}: " + ", ".join(purpose.consent_purposes) if purpose.consent_purposes else L["yes"]


def _kinds(t: Table, columns: Iterable[Column] | None = None) -> set[str]:
    """The categories of data subjects a table's columns (all, or ``columns``) are about: free text
    redacted on ingest names third persons besides the subject; a column ``about`` another person
    (an employee code) names them."""
    columns = list(t.columns if columns is None else columns)
    kinds = {t.subject.kind} if t.subject else set()
    kinds |= {c.about for c in columns if c.about and category(t, c) in _PERSONAL}
    return kinds | ({"third_party"} if any(c.transform == "redact" for c in columns) else set())


def _outside(policy: Policy, purpose: str) -> list:
    """The records outside the warehouse that serve ``purpose``: retention rules naming it (the audit
    log, the request records, ...), whom they are about and what they hold (Art. 30(1)(b)-(c))."""
    return [r for r in policy.retention.values() if purpose in r.purposes]


def _records(L: dict, rules: list) -> str:
    return f"{L['outside']}: {', '.join(r.name for r in rules)}" if rules else ""


def _subjects(policy: Policy, cols: list[tuple[Table, Column]], L: dict, lang: str, outside=()) -> str:
    kinds = set().union(*(_kinds(t, [c]) for t, c in cols if category(t, c) in _PERSONAL)) if cols else set()
    kinds |= {k for r in outside for k in r.subjects}
    return ", ".join(policy.text(policy.subject_categories.get(k, k), lang) for k in sorted(kinds)) or L["no_subjects"]


def _cols(cols: list[tuple[Table, Column]]) -> str:
    grouped = defaultdict(list)
    for t, c in cols:
        grouped[t.name].append(c.name)
    return "; ".join(f"{t}: {', '.join(names)}" for t, names in grouped.items())


def _data(cols: list[tuple[Table, Column]], L: dict, outside=()) -> str:
    parts = [f"{cat}: {_cols([(t, c) for t, c in cols if category(t, c) == cat])}" for cat in _PERSONAL
             if any(category(t, c) == cat for t, c in cols)]
    parts += [_records(L, outside)] if outside else []
    return " | ".join(parts) or L["no_data"]


def _rule(policy: Policy, name: str, cols: list[tuple[Table, Column]], L: dict, lang: str) -> list[str]:
    r = policy.retention.get(name)
    if r is None:
        return [str(name), L["undefined"], "", "", "", _cols(cols)]
    y = f"{r.duration_days / 365.25:.1f}"
    years = L["years"].format(y=y.replace(".", ",") if lang == "nl" else y) if r.duration_days >= 365 else ""
    span = L["days"].format(n=r.duration_days) + years
    return [name, policy.text(r.description, lang), span, policy.text(r.anchor, lang), L["action"].get(r.action, r.action),
            "; ".join(filter(None, (_cols(cols), policy.text(r.applies_to, lang)))) or L["no_columns"]]


def _markdown(title: str, note: str, sections) -> str:
    out = [f"# {title}", "", f"_{note}_", ""]
    for heading, headers, rows in sections:
        out += [f"## {heading}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows] + [""]
    return "\n".join(out)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _html(title: str, note: str, sections, lang: str) -> str:
    e = html.escape
    label, other = _LABELS[lang]["other"]
    out = ["<!doctype html>", f'<html lang="{lang}"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:80em;margin:2em auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #999;padding:.3em;vertical-align:top;text-align:left}</style></head><body>",
           f'<p><a href="{FILES[other]}.html" hreflang="{other}">{e(label)}</a></p>',
           f"<h1>{e(title)}</h1>", f"<p><em>{e(note)}</em></p>"]
    for heading, headers, rows in sections:
        out += [f"<h2>{e(heading)}</h2>", "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>"]
        out += ["<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in rows] + ["</table>"]
    return "\n".join(out + ["</body></html>", ""])
