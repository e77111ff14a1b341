"""The readable HTML summary of an access export, in Dutch (default) and English.

Art. 12(1) asks for concise, intelligible information in clear language; Art. 15(1) for the
data itself and what we do with it. Every value is HTML-escaped: the data is the subject's own
free text and must never become markup.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING

from privacy.rights import texts
from privacy.rights.readable import amount, shown
from privacy.rights.warehouse import SUBJECT_COLUMN

if TYPE_CHECKING:
    from privacy.rights.access import Dataset


LABELS = {
    "nl": {"title": "Uw persoonsgegevens bij", "request": "Verzoek", "generated": "Opgesteld op",
           "other": ("In English", "summary.en.html"), "confirmation": "Verwerken wij uw gegevens?",
           "purposes": "Doelen en grondslagen", "categories": "Soorten gegevens", "recipients": "Ontvangers",
           "retention": "Bewaartermijnen", "sources": "Herkomst", "profiling": "Profilering en de logica ervan",
           "rights": "Uw rechten", "complaint": "Klacht", "transfers": "Doorgifte buiten de EER",
           "datasets": "Uw gegevens per dataset", "rows": ("rij", "rijen"), "basis": "grondslag",
           "interest": "ons belang daarbij", "files":
           "De mappen json/ en csv/ bevatten dezelfde gegevens machineleesbaar, zoals wij ze opslaan (met codes, "
           "uw pseudoniem en onze laadadministratie); metadata.json deze uitleg en wat de codes betekenen; "
           "manifest.json de SHA-256-controlegetallen van elk bestand.", "applies": "geldt voor u"},
    "en": {"title": "Your personal data held by", "request": "Request", "generated": "Prepared on",
           "other": ("In het Nederlands", "overzicht.nl.html"), "confirmation": "Do we process your data?",
           "purposes": "Purposes and legal bases", "categories": "Categories of data", "recipients": "Recipients",
           "retention": "Retention periods", "sources": "Sources", "profiling": "Profiling and its logic",
           "rights": "Your rights", "complaint": "Complaint", "transfers": "Transfers outside the EEA",
           "datasets": "Your data per dataset", "rows": ("row", "rows"), "basis": "legal basis",
           "interest": "our interest in it", "files":
           "The folders json/ and csv/ hold the same data, machine-readable, as we store it (with codes, your "
           "pseudonym and our load records); metadata.json this information and what the codes mean; "
           "manifest.json the SHA-256 checksum of every file.", "applies": "applies to you"},
}
FILES = {"nl": "overzicht.nl.html", "en": "summary.en.html"}
_CSS = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #bbb;padding:2px 6px;vertical-align:top}")


def render(metadata: dict, datasets: list[Dataset], lang: str) -> str:
    """One self-contained HTML page in ``lang`` ("nl" or "en")."""
    L, a = LABELS[lang], {k: v["content"] for k, v in metadata["art15"].items()}
    e = html.escape
    out = [f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{e(L['title'])}</title>"
           f"<style>{_CSS}</style></head><body>",
           f"<p><a href='{L['other'][1]}' hreflang='{'en' if lang == 'nl' else 'nl'}'>{e(L['other'][0])}</a></p>",
           f"<h1>{e(L['title'])} {e(metadata['controller'].get('name', ''))}</h1>",
           f"<p>{e(L['request'])}: {e(metadata['request_id'])}. {e(L['generated'])}: "
           f"{e(shown(datetime.fromisoformat(metadata['generated_at']), lang))}.</p>",
           f"<h2>{e(L['confirmation'])}</h2><p>{e(a['confirmation']['statement'][lang])}</p>"]
    if datasets:  # the files sentence speaks of the datasets in json/ and csv/
        out += [f"<p>{e(L['files'])}</p>",
                _list(L["purposes"], [_purpose(p, L, lang) for p in a["purposes"]]),
                _list(L["categories"], [c["description"][lang] for c in a["categories"]]),
                _list(L["recipients"], [r["plain"][lang] for r in a["recipients"]]),
                _list(L["retention"], [f"{r['plain'][lang] if 'plain' in r else r['rule']} "
                                       f"({r['kept_in'][lang] if 'kept_in' in r else ', '.join(r['datasets'])})"
                                       for r in a["retention"]]),
                _list(L["sources"], [f"{s['title'][lang]} ({s['dataset']}): {s['origin'][lang]}" for s in a["sources"]])]
    prof = a["profiling"]
    out.append(_list(L["profiling"], [f"{m['title'][lang]}{' (' + L['applies'] + ')' if m['applies_to_you'] else ''}: "
                                      f"{m['plain'][lang]} {' '.join(s[lang] for s in m['significance'])}"
                                      for m in prof["models"]] + [prof["statement"][lang]]))
    out.append(_list(L["rights"], [f"{r[lang]} ({texts.cite(r['article'], lang)}; {r['how']})"
                                   for r in a["rights"].values()]))
    out.append(_list(L["complaint"], [f"{a['complaint'][lang]} {a['complaint']['authority']}"]))
    out.append(_list(L["transfers"], [a["transfers"]["plain"][lang]]))
    out.append(f"<h2>{e(L['datasets'])}</h2>")
    for d in datasets:
        out.append(f"<h3>{e(d.title[lang])} <small>({e(d.name)}, {len(d.rows)} {e(L['rows'][len(d.rows) != 1])})"
                   f"</small></h3>{_table(d, lang, metadata.get('codes', {}))}")
    out.append("</body></html>")
    return "\n".join(out)


def _purpose(p: dict, L: dict, lang: str) -> str:
    said = f"{p['plain'][lang]}; {L['basis']}: {texts.basis(p['legal_basis'], lang)}"
    return f"{said}; {L['interest']}: {p['legitimate_interest']['plain'][lang]}" if "legitimate_interest" in p else said


def _list(title: str, items: list[str]) -> str:
    return f"<h2>{html.escape(title)}</h2><ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>"


def _table(d: Dataset, lang: str, codes: dict[str, dict[str, dict[str, str]]]) -> str:
    """The rows under each column's heading in ``lang``, its name (as in json/ and csv/) beneath, a
    code as what it means (``codes``: column -> code -> text per language); without the pseudonym
    and the load bookkeeping (``_source_file``...), which json/ and csv/ keep."""
    columns = [c for c in d.columns if c != SUBJECT_COLUMN and not c.startswith("_")]
    headings = d.headings()
    head = "".join(f"<th>{html.escape(headings[c][lang])}<br><small><code>{html.escape(c)}</code></small></th>"
                   for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_meaning(codes, c, r.get(c), lang))}</td>" for c in columns)
                   + "</tr>" for r in d.rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _meaning(codes: dict, column: str, value, lang: str) -> str:
    said = codes.get(column, {}).get(value) if isinstance(value, str) else None
    return said[lang] if said else shown(amount(column, value), lang)
