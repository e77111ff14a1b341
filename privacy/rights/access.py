"""Everything the warehouse holds about a data subject, decrypted, for the access export.

GDPR Art. 15(1) and (3) (a copy of the personal data) and Art. 20 (structured, machine-readable):
every row with the subject's pseudonymous id in any table: raw layer, quarantine, snapshot
history, intermediate and marts (profiling results). Encrypted columns are decrypted through
:func:`privacy.crypto.decrypt_columns`, which writes one audit entry per table (Art. 5(2)).
Free text, and its copy redacted at ingest, is given back with the subject's own values but third
persons redacted (Art. 15(4)).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from privacy.crypto import decrypt_columns
from privacy.rights.texts import LANGUAGES
from privacy.rights.warehouse import SUBJECT_COLUMN, Relation, fetch, subject_relations
from privacy.tables import Classification, Table

PURPOSE = "data subject access request (Art. 15)"
QUARANTINE = "_quarantine"
RedactOthers = Callable[[list[str], set[str]], list[str]]


@dataclass(frozen=True)
class Dataset:
    """The rows of one relation about the subject, as plain JSON-able values (Art. 15(3), 20)."""

    relation: Relation
    table: Table | None
    columns: list[str]
    rows: list[dict]

    @property
    def name(self) -> str:
        return self.relation.dataset

    @property
    def title(self) -> dict[str, str]:
        """Its heading for the data subject, per language (``meta.title``, Art. 12(1)); else its name."""
        return _titled(self.table.title if self.table else {}, self.name)

    def headings(self) -> dict[str, dict[str, str]]:
        """Each column's heading per language (its ``meta.title``, Art. 12(1)); else its name."""
        declared = {c.name: c.title for c in self.table.columns} if self.table else {}
        return {c: _titled(declared.get(c, {}), c) for c in self.columns}


def _titled(given: dict[str, str], name: str) -> dict[str, str]:
    return {lang: given.get(lang) or name for lang in LANGUAGES}


def collect(con, subject_ids: Sequence[str], *, classification: Classification, keystore, audit,
            redact_others: RedactOthers, actor: str, now: datetime) -> list[Dataset]:
    """The subject's rows in every table with a subject_id (Art. 15(1), 15(3), 20).

    Views store nothing (staging views show raw rows deduplicated and typed) and cost a scan of
    their whole source each: they are left out; see ``derived_views``."""
    datasets = []
    for relation in subject_relations(con, views=False):
        columns, rows = fetch(con, relation, subject_ids)
        if not rows:
            continue
        table = relation.classified(classification)
        records = [dict(zip(columns, row)) for row in rows]
        if table is not None and table.layer == "source":
            _decrypt(records, table, keystore, audit=audit, actor=actor, now=now)
        datasets.append(Dataset(relation, table, columns, records))
    texts = free_text_columns(classification)
    if not any(_texts_in(d, texts) for d in datasets):
        return datasets
    from privacy.redact import own_values  # Presidio and spaCy take seconds to load: only for free text

    own = {v for d in datasets if d.relation.schema == "raw" for r in d.rows for v in own_values(_flat(r))}
    for d in datasets:
        if d.table is not None and d.table.layer == "source":
            for record in d.rows:
                target = record["record"] if d.table.name == QUARANTINE else record
                source = record.get("source") if d.table.name == QUARANTINE else d.table.name
                for column in texts.get(source, ()):
                    if isinstance(target, dict) and target.get(column):
                        target[column] = redact_others([target[column]], own)[0]
    return datasets


def derived_views(con) -> list[str]:
    """The views with a subject_id: computed from the tables in the export, stored nowhere."""
    return [r.dataset for r in subject_relations(con, views=True) if r.is_view]


def free_text_columns(classification: Classification) -> dict[str, list[str]]:
    """Per raw table, the free-text columns: those with a redacted twin (``meta.ingest.transform:
    redact``), and the twins, whose redaction at ingest leaves a person the CRM does not know."""
    return {t.name: sorted({n for c in t.columns if c.transform == "redact" for n in (c.from_column, c.name)})
            for t in classification if t.layer == "source"}


def _texts_in(d: Dataset, texts: dict[str, list[str]]) -> bool:
    if d.table is None or d.table.layer != "source":
        return False
    if d.table.name == QUARANTINE:
        return any(isinstance(r["record"], dict) and any(r["record"].get(c) for c in texts.get(r.get("source"), ()))
                   for r in d.rows)
    return any(r.get(c) for r in d.rows for c in texts.get(d.table.name, ()))


def _decrypt(records: list[dict], table: Table, keystore, *, audit, actor: str, now: datetime) -> None:
    secret = [c.name for c in table.columns if c.transform == "encrypt" and records and c.name in records[0]]
    if not secret:
        return
    clear = decrypt_columns({c: [r[c] for r in records] for c in secret},
                            [r[SUBJECT_COLUMN] for r in records], table.name, keystore, purpose=PURPOSE,
                            audit=audit, actor=actor, now=now, on_shredded="none")
    for column, values in clear.items():
        for record, value in zip(records, values):
            record[column] = value
    if table.name == QUARANTINE:
        for record in records:
            record["record"] = json.loads(record["record"]) if record["record"] else None


def _flat(record: dict) -> dict:
    # A quarantined landing row carries the subject's own values inside its JSON record.
    inner = record.get("record")
    return {**record, **inner} if isinstance(inner, dict) else record
