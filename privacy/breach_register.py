"""The register of personal data breaches (Art. 33(5)) and a draft notification to the supervisory
authority (Art. 33(1), 33(3)), in English and Dutch as the register of processing (Art. 30).

Each breach is one JSON line in ``<home>/state/breaches.jsonl`` (0600, beside the request ledger):
when it was discovered, the deadline 72 hours later, the file and what its assessment
(``privacy.breach``) found, as counts and column names. The draft fills the items of Art. 33(3)(a)-(d)
that the file tells and leaves placeholders, in [brackets], for what only the privacy officer knows.
The register and the drafts are kept as long as the policy's rule ``breach_register`` says, then
removed by the daily retention sweep (``expire``, Art. 5(1)(e)).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from privacy.audit import timestamp
from privacy.paths import locked_file, private_dir, write_private
from privacy.breach import BESIDE_PSEUDONYM, ENCRYPTED, PLAIN, PSEUDONYMISED, REDACTED, Assessment, verdict
from privacy.policy import Policy
from privacy.rights.requests import LOCAL_TIME

NOTIFY_WITHIN = timedelta(hours=72)  # Art. 33(1): "not later than 72 hours after having become aware of it"
REGISTER_FILE = "breaches.jsonl"
ID = re.compile(r"breach-\d{8}-\d{6}-[0-9a-f]{4}")  # as record_breach makes them: breach-<_ID_TIME>-<4 hex>
_ID_TIME = "%Y%m%d-%H%M%S"  # when the breach was recorded (UTC), in its id
LANGUAGES = ("en", "nl")  # of the draft notifications
RULE = "breach_register"  # the policy's retention rule of the register and its drafts (Art. 5(1)(e))


@dataclass(frozen=True)
class Breach:
    id: str
    recorded_at: datetime
    discovered_at: datetime
    description: str | None

    @property
    def notify_by(self) -> datetime:
        """The deadline of the notification to the supervisory authority (Art. 33(1))."""
        return self.discovered_at + NOTIFY_WITHIN

    @property
    def late(self) -> bool:
        """Recorded after the deadline: the notification must give the reasons for the delay (Art. 33(1))."""
        return self.recorded_at > self.notify_by


def record_breach(register: Path, assessment: Assessment, *, discovered: datetime, now: datetime,
                  description: str | None = None) -> Breach:
    """Append the breach to the register (Art. 33(5)): its facts, the file's assessment in counts
    and column names, and the deadline; one line, fsynced before this returns."""
    if discovered.tzinfo is None or now.tzinfo is None:
        raise ValueError("discovered and now must be timezone-aware")
    now, discovered = now.astimezone(timezone.utc), discovered.astimezone(timezone.utc)
    breach = Breach(f"breach-{now.strftime(_ID_TIME)}-{secrets.token_hex(2)}", now, discovered, description or None)
    entry = {"id": breach.id, "recorded_at": timestamp(now), "discovered_at": timestamp(discovered),
             "notify_by": timestamp(breach.notify_by), "file": assessment.file, "file_kind": assessment.kind,
             "description": breach.description, "subjects": assessment.subjects, "records": assessment.records,
             "plain_personal": assessment.plain, "not_classified": assessment.unclassified,
             "tables": [{"table": t.name, "rows": t.rows, "subjects": t.subjects, "subject_kind": t.kind,
                         **{p.replace(" ", "_"): t.having(p) for p in (PLAIN, ENCRYPTED, PSEUDONYMISED, REDACTED,
                                                                      BESIDE_PSEUDONYM)}}
                        for t in assessment.tables if t.personal]}
    private_dir(register.parent)
    with locked_file(register) as f:  # `expire` may be replacing the register meanwhile
        f.write((json.dumps(entry, ensure_ascii=False) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())
    return breach


def expire(register: Path, drafts: Path, policy: Policy, *, now: datetime,
           before_removal: Callable[[list[str]], None] | None = None) -> list[str]:
    """The breach register's own storage limitation (Art. 5(1)(e)): the breaches recorded before
    the rule ``breach_register`` counts back from ``now`` leave the register, and their draft
    notifications leave ``drafts``, also a draft whose line the register no longer holds (a register
    put back from a backup), by the time in its name. Returns the ids removed; none under a policy
    without the rule. ``before_removal`` gets them first, under the register's lock: a caller records
    the expiry there, so nothing goes unrecorded (Art. 5(2)), and a failure there removes nothing.
    The register is replaced whole under its lock, so a breach recorded meanwhile is kept. A register
    with a line that is not a breach record is left as it is (ValueError naming the line): what
    cannot be read cannot be judged."""
    rule = policy.retention.get(RULE)
    if rule is None:
        return []
    cut = rule.cutoff(now)
    cut_stamp = timestamp(cut)  # as recorded_at is written
    with locked_file(register) if register.is_file() else contextlib.nullcontext() as f:
        lines = f.read().decode("utf-8").splitlines(keepends=True) if f else []
        kept, gone = [], []
        for number, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line) if line.strip() else None
                if entry is not None and not ID.fullmatch(entry["id"]):  # it names its drafts: never a path
                    raise ValueError
                past = entry is not None and entry["recorded_at"] < cut_stamp
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{register}: line {number} is not a breach record, so no breach expired; put it "
                                 "right (or the register back from a backup)") from None
            if past:
                gone.append(entry["id"])
            else:
                kept.append(line)
        stray = sorted({p.name.split(".")[0] for p in drafts.glob("breach-*.md")} - set(gone)) if drafts.is_dir() else []
        gone += [b for b in stray if ID.fullmatch(b) and _recorded_at(b) < cut]
        if gone and before_removal is not None:
            before_removal(gone)
        for breach_id in gone:  # first: a failure here leaves the register whole, for the next sweep to try again
            for lang in LANGUAGES:
                _draft(drafts, breach_id, lang).unlink(missing_ok=True)
        if f and len(kept) < len(lines):
            write_private(register, [line.encode() for line in kept])
    return gone


def _recorded_at(breach_id: str) -> datetime:
    """When the breach was recorded, as its id says (``record_breach``: UTC, to the second)."""
    return datetime.strptime(breach_id.split("-", 1)[1].rsplit("-", 1)[0], _ID_TIME).replace(tzinfo=timezone.utc)


def _draft(drafts: Path, breach_id: str, lang: str) -> Path:
    """The draft notification of a breach in one language (``write_notification``)."""
    return drafts / f"{breach_id}.{lang}.md"


def recorded(register: Path) -> list[dict]:
    """The breaches recorded so far, oldest first (Art. 33(5))."""
    if not register.is_file():
        return []
    return [json.loads(line) for line in register.read_text(encoding="utf-8").splitlines() if line.strip()]


_L = {
    "en": {
        "title": "Draft notification of a personal data breach (Art. 33 GDPR)",
        "draft": "Draft, generated from the file's assessment: check every item and fill in each [placeholder] "
                 "before you submit it to {authority}.",
        "controller": "Controller", "dpo": "(b) Contact point: the data protection officer",
        "discovered": "Became aware of the breach", "deadline": "Notify the supervisory authority by (72 hours, "
                      "Art. 33(1))", "late": "Reasons for the delay (Art. 33(1)): [why the notification is later "
                                            "than 72 hours after discovery]",
        "file": "File concerned", "what": "What happened", "what_todo": "[how the file got where it should not be, "
                                                                       "since when, who had or may have had access, "
                                                                       "whether the copy was retrieved or deleted]",
        "a": "(a) Nature of the breach", "nature": "Nature", "nature_todo": "[confidentiality breach (a copy "
                                                                            "reached people not authorised); also "
                                                                            "availability or integrity?]",
        "kinds": "Categories of data subjects", "subjects": "Approximate number of data subjects",
        "subjects_n": "{n} (distinct subjects in the file)", "records": "Approximate number of personal data records",
        "records_n": "{n} {rows} in {t} {tables} holding personal data",
        "row": ("row", "rows"), "table": ("table", "tables"),
        "columns": "Personal data concerned, by how the file holds it",
        "c": "(c) Likely consequences", "c_todo": "[the consequences for the data subjects: e.g. phishing, fraud, "
                                                   "damage to reputation; weigh the circumstances of the finder]",
        "d": "(d) Measures taken or proposed", "d_in_place": "In place before the breach (Art. 32): direct "
             "identifiers encrypted per subject (AES-256-GCM) with keys outside the file; subjects named by a keyed "
             "pseudonym (HMAC-SHA256); free text redacted.",
        "d_todo": "[measures taken to address the breach and mitigate its effects: copy deleted or retrieved, access "
                  "revoked; if the key folder may have been exposed too: `klantkluis rotate-master-key` and a new "
                  "pseudonym key]",
        "art34": "Communication to the data subjects (Art. 34)", "art34_todo": "[your decision, with its reasons; "
                                                                              "when informing them: how and when]",
        "landing": "None for this file: a landing file is the source's export in clear, before the warehouse "
                   "encrypts and pseudonymises what it loads; landing files are removed after their retention rule "
                   "(landing_files).",
        "none": "[none recorded]",
        "kind": {"duckdb": "DuckDB database file", "parquet": "Parquet file of a published mart",
                 "landing": "landing file"},
        "protection": {},
    },
    "nl": {
        "title": "Conceptmelding van een inbreuk in verband met persoonsgegevens, een datalek (art. 33 AVG)",
        "draft": "Concept, opgesteld op basis van de beoordeling van het bestand: controleer elk punt en vul elke "
                 "[invulplek] in voordat u de melding indient bij de toezichthoudende autoriteit ({authority}).",
        "controller": "Verwerkingsverantwoordelijke", "dpo": "(b) Contactpunt: de functionaris gegevensbescherming",
        "discovered": "Moment van kennisname van de inbreuk", "deadline": "Uiterlijk melden bij de "
                      "toezichthoudende autoriteit (binnen 72 uur, art. 33 lid 1)",
        "late": "Redenen voor de vertraging (art. 33 lid 1): [waarom de melding later is dan 72 uur na kennisname]",
        "file": "Betrokken bestand", "what": "Wat er gebeurde", "what_todo": "[hoe het bestand ergens kwam waar het "
                                                                            "niet hoorde, sinds wanneer, wie er "
                                                                            "toegang toe had of kan hebben gehad, of "
                                                                            "de kopie terug is of verwijderd]",
        "a": "(a) Aard van de inbreuk", "nature": "Aard", "nature_todo": "[inbreuk op de vertrouwelijkheid (een kopie "
                                                                     "bij onbevoegden); ook op beschikbaarheid of "
                                                                     "integriteit?]",
        "kinds": "Categorieën van betrokkenen", "subjects": "Aantal betrokkenen, bij benadering",
        "subjects_n": "{n} (verschillende betrokkenen in het bestand)", "records": "Aantal "
                      "persoonsgegevensregisters, bij benadering", "records_n": "{n} {rows} in {t} {tables} met "
                                                                            "persoonsgegevens",
        "row": ("rij", "rijen"), "table": ("tabel", "tabellen"),
        "columns": "Betrokken persoonsgegevens, naar hoe het bestand ze bevat",
        "c": "(c) Waarschijnlijke gevolgen", "c_todo": "[de gevolgen voor de betrokkenen: bijv. phishing, fraude, "
                                                        "reputatieschade; weeg de omstandigheden van wie het vond]",
        "d": "(d) Genomen of voorgestelde maatregelen", "d_in_place": "Al vóór de inbreuk getroffen (art. 32): direct "
             "identificerende gegevens per betrokkene versleuteld (AES-256-GCM) met sleutels buiten het bestand; "
             "betrokkenen aangeduid met een pseudoniem met geheime sleutel (HMAC-SHA256); vrije tekst afgeschermd.",
        "d_todo": "[maatregelen om de inbreuk aan te pakken en de nadelige gevolgen ervan te beperken: kopie "
                  "verwijderd of terug, toegang ingetrokken; als de sleutelmap mogelijk ook gelekt is: `klantkluis "
                  "rotate-master-key` en een nieuwe pseudoniemsleutel]",
        "art34": "Mededeling aan de betrokkenen (art. 34)", "art34_todo": "[uw besluit, met de redenen; als u hen "
                                                                         "informeert: hoe en wanneer]",
        "landing": "Geen voor dit bestand: een aanleverbestand is de onversleutelde export van een bronsysteem, "
                   "van vóór het moment dat het datawarehouse wat het laadt versleutelt en pseudonimiseert; "
                   "aanleverbestanden worden verwijderd na hun bewaartermijn (landing_files).",
        "none": "[niets vastgelegd]", "kind": {"duckdb": "DuckDB-databasebestand",
                                                    "parquet": "Parquet-bestand van een gepubliceerde mart",
                                                    "landing": "aanleverbestand"},
        "protection": {PLAIN: "leesbaar", BESIDE_PSEUDONYM: "leesbaar naast het pseudoniem", REDACTED: "afgeschermd",
                       ENCRYPTED: "versleuteld", PSEUDONYMISED: "gepseudonimiseerd"},
    },
}


def local(at: datetime) -> str:
    """A time as the business reads it (Europe/Amsterdam), with its zone: the deadline the authority counts."""
    return f"{at.astimezone(LOCAL_TIME):%Y-%m-%d %H:%M %Z}"


def notification(breach: Breach, assessment: Assessment, policy: Policy, key_dir: str, lang: str = "en") -> str:
    """The draft notification to the supervisory authority as Markdown: Art. 33(3)(a) from the
    assessment, (b) from the policy, (c) and (d) with what the file tells and placeholders."""
    L, t_ = _L[lang], (lambda text: policy.text(text, lang))
    kinds = sorted({t.kind for t in assessment.tables if t.kind and t.personal}
                   | {c.about for t in assessment.tables for c in t.columns if c.about})
    personal = [t for t in assessment.tables if t.personal]
    out = [f"# {L['title']}: {breach.id}", "", L["draft"].format(authority=policy.supervisory_authority), "",
           f"- {L['controller']}: {', '.join(str(v) for v in policy.controller.values() if v)}",
           f"- {L['discovered']}: {local(breach.discovered_at)}",
           f"- {L['deadline']}: **{local(breach.notify_by)}**",
           *([f"- {L['late']}"] if breach.late else []),
           f"- {L['file']}: `{assessment.file}` ({L['kind'][assessment.kind]})",
           f"- {L['what']}: " + (f"{breach.description} " if breach.description else "") + L["what_todo"], "",
           f"## {L['a']}", "", f"- {L['nature']}: {L['nature_todo']}",
           f"- {L['kinds']}: " + ("; ".join(t_(policy.subject_categories.get(k, k)) for k in kinds) or L["none"]),
           f"- {L['subjects']}: " + (L["subjects_n"].format(n=assessment.subjects) if assessment.subjects is not None
                                     else L["none"]),
           f"- {L['records']}: " + L["records_n"].format(
               n=assessment.records, rows=L["row"][assessment.records != 1], t=len(personal),
               tables=L["table"][len(personal) != 1]), "",
           f"{L['columns']}:", ""]
    for protection in (PLAIN, BESIDE_PSEUDONYM, REDACTED, ENCRYPTED, PSEUDONYMISED):
        if cols := [f"{t.name}.{c.name}" for t in personal for c in t.columns if c.protection == protection]:
            out.append(f"- {L['protection'].get(protection, protection)}: {', '.join(cols)}")
    dpo = ", ".join(str(v) for v in policy.dpo.values() if v)
    out += ["", f"## {L['dpo']}", "", dpo or L["none"], "", f"## {L['c']}", "",
            *(f"- {line}" for line in verdict(assessment, key_dir, lang)), f"- {L['c_todo']}", "",
            f"## {L['d']}", "", f"- {L['landing' if assessment.kind == 'landing' else 'd_in_place']}",
            f"- {L['d_todo']}", "",
            f"## {L['art34']}", "", f"- {verdict(assessment, key_dir, lang)[0]}", f"- {L['art34_todo']}", ""]
    return "\n".join(out)


def write_notification(out_dir: Path, breach: Breach, assessment: Assessment, policy: Policy,
                       key_dir: str) -> dict[str, Path]:
    """The draft notification in English and Dutch, ``<id>.en.md`` and ``<id>.nl.md`` in ``out_dir``."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = {}
    for lang in LANGUAGES:
        written[lang] = write_private(_draft(out_dir, breach.id, lang),
                                      notification(breach, assessment, policy, key_dir, lang))
    return written
