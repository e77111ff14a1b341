"""What a file made by klantkluis exposes when it leaks: a personal data breach (Art. 4(12), 33, 34).

After a copy of the warehouse, of the published marts, of a backup or of a landing file went where it
should not, the controller must notify the supervisory authority within 72 hours with the categories
and approximate numbers of subjects and records (Art. 33(1), 33(3)(a)) and tell the subjects unless
the data was unintelligible to the finder, such as encrypted with keys they do not have (Art.
34(3)(a)). The classification says what each column holds; this module reads the file itself (its
tables, row counts, distinct pseudonyms or subject keys, column types) and says per column how it is
protected there. Counts and names only: no value of the file is ever returned.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from privacy.retention import ANONYMOUS_PREFIX
from privacy.rights.warehouse import LAYERS, SUBJECT_COLUMN
from privacy.tables import BOOKKEEPING, Classification, Table

ENCRYPTED, PSEUDONYMISED, REDACTED = "encrypted", "pseudonymised", "redacted"
BESIDE_PSEUDONYM, PLAIN, NON_PERSONAL, UNCLASSIFIED = ("readable beside pseudonym", "plain personal",
                                                        "non-personal", "not classified")
LEGEND = {
    ENCRYPTED: "ciphertext under the subject's own key (AES-256-GCM); the key is in the key folder only",
    PSEUDONYMISED: "the subject's key as an HMAC-SHA256 under pseudonym.key (Art. 4(5))",
    REDACTED: "free text with the personal data it recognised replaced by placeholders (recall below 100 %)",
    BESIDE_PSEUDONYM: "a readable value (a city, an age band, an employee code) in a table that names its subject only by "
                      "the pseudonym: still personal data (Art. 4(5))",
    PLAIN: "personal data anyone who has the file can read and attribute",
    NON_PERSONAL: "not about a person",
    UNCLASSIFIED: "declared nowhere: judge by hand",
}
_RANK = {"direct_identifier": 3, "special_category": 2, "quasi_identifier": 1, "non_personal": 0}
SEED_SCHEMA = "config"  # dbt seeds (configuration): classified in seeds/_seeds.yml


@dataclass(frozen=True)
class ColumnExposure:
    name: str
    category: str | None
    protection: str
    about: str | None = None  # whom it is about when not the row's subject (an employee code)


@dataclass(frozen=True)
class TableExposure:
    name: str
    rows: int
    subjects: int | None  # distinct pseudonyms (or subject keys in a landing file); None: no subject column
    kind: str | None  # the subject category (customer, lead) where the classification names it
    columns: tuple[ColumnExposure, ...]

    def having(self, *protections: str) -> list[str]:
        return [c.name for c in self.columns if c.protection in protections]

    @property
    def personal(self) -> bool:
        return any(c.protection not in (NON_PERSONAL, UNCLASSIFIED) for c in self.columns)


@dataclass(frozen=True)
class Assessment:
    file: str
    kind: str  # "duckdb", "parquet" (a published mart's copy) or "landing"
    tables: tuple[TableExposure, ...]
    subjects: int | None  # distinct subjects in the whole file

    @property
    def plain(self) -> list[str]:
        """``table.column`` of every column anyone holding the file can read and attribute."""
        return [f"{t.name}.{c}" for t in self.tables for c in t.having(PLAIN)]

    @property
    def unclassified(self) -> list[str]:
        return [f"{t.name}.{c}" for t in self.tables for c in t.having(UNCLASSIFIED)]

    @property
    def records(self) -> int:
        """Rows of the tables that hold personal data (Art. 33(3)(a): records concerned)."""
        return sum(t.rows for t in self.tables if t.personal)


def is_duckdb(path: Path) -> bool:
    """Whether ``path`` is a DuckDB database file (its header says ``DUCK``)."""
    with open(path, "rb") as f:
        return f.read(12)[8:12] == b"DUCK"


def assess_duckdb(con, file: str, classification: Classification, *, seeds: Collection[Table] = (),
                  non_personal: Collection[str] = ()) -> Assessment:
    """Every table of the open DuckDB file (a warehouse, a backup of it, the published marts): rows,
    distinct pseudonyms and each column's protection as the file holds it (Art. 33(3)(a), 34(3)(a)).
    A column declared ``encrypt`` counts as encrypted only when the file stores it as BLOB (an older
    warehouse held some as text). Views are left out: they hold no rows of their own. Tables named in
    ``non_personal`` (the published data dictionary) are taken as not about anyone."""
    found = con.execute(
        "select t.schema_name, t.table_name, list(c.column_name order by c.column_index), "
        "list(c.data_type order by c.column_index) from duckdb_tables() t join duckdb_columns() c "
        "on c.database_name = t.database_name and c.schema_name = t.schema_name and c.table_name = t.table_name "
        "where t.database_name = current_database() and not t.internal and not t.temporary "
        "group by all order by all").fetchall()
    seeds = {t.name: t for t in seeds}
    tables, pseudonyms = [], []
    for schema, name, columns, types in found:
        declared = seeds.get(name) if schema == SEED_SCHEMA else _declared(classification, schema, name)
        sql = f"{_quoted(schema)}.{_quoted(name)}"
        counted = _distinct(SUBJECT_COLUMN) if SUBJECT_COLUMN in columns else "null"
        rows, subjects = con.execute(f"select count(*), {counted} from {sql}").fetchone()
        if SUBJECT_COLUMN in columns:
            pseudonyms.append(f"select {SUBJECT_COLUMN}::varchar as s from {sql}")
        exposed = [ColumnExposure(c, None, NON_PERSONAL) for c in columns] if name in non_personal else \
            _columns(declared, dict(zip(columns, types)))
        tables.append(TableExposure(f"{schema}.{name}", rows, subjects, declared.subject.kind
                                    if declared and declared.subject else None, tuple(exposed)))
    total = con.execute(f"select {_distinct('s')} from ({' union all '.join(pseudonyms)})").fetchone()[0] \
        if pseudonyms else None
    return Assessment(file, "duckdb", tuple(tables), total)


def assess_landing(file: str, table: Table, rows: pa.Table, input_rows: int,
                   unknown: Collection[str] = ()) -> Assessment:
    """A landing file of source ``table`` as read (``rows``: its columns under our names): every
    value is as exported, so each personal column is plain (Art. 34(3)(a) cannot apply); the
    subjects are the distinct values of the source's key. ``input_rows`` counts the lines the
    reader could not parse too: they hold the same data. ``unknown``: the file's columns that are
    none of the source's, which the reader leaves out; they are not classified."""
    exposed, key = [], table.subject.key if table.subject else None
    for name in rows.column_names:
        derived = [c for c in table.columns if (c.from_column or c.name) == name and c.name not in BOOKKEEPING]
        if not derived:
            continue
        # the source's key in clear is the customer or lead number itself, whatever its pseudonym is
        category = "direct_identifier" if name == key else max((c.category for c in derived),
                                                                key=lambda cat: _RANK.get(cat, 3))
        exposed.append(ColumnExposure(name, category, NON_PERSONAL if category == "non_personal" else PLAIN,
                                      next((c.about for c in derived if c.about), None)))
    exposed += [ColumnExposure(name, None, UNCLASSIFIED) for name in unknown]
    subjects = pc.count_distinct(rows[key]).as_py() if key in rows.column_names else None
    kind = table.subject.kind if table.subject else None
    return Assessment(file, "landing", (TableExposure(table.name, input_rows, subjects, kind, tuple(exposed)),),
                      subjects)


def _declared(classification: Classification, schema: str, name: str) -> Table | None:
    for layer in (LAYERS.get(schema, "model"), None):
        try:
            return classification.table(name, layer)
        except KeyError:
            continue
    return None


def _quoted(name: str) -> str:
    """An identifier as SQL: a file of another product may name a table with any character."""
    return '"' + name.replace('"', '""') + '"'


def _distinct(column: str) -> str:
    # an anonymised row's subject_id is a token per row (privacy.retention), no subject's
    return f"count(distinct {column}) filter (where not starts_with({column}::varchar, '{ANONYMOUS_PREFIX}'))"


def _columns(declared: Table | None, types: dict[str, str]) -> list[ColumnExposure]:
    classified = {c.name: c for c in declared.columns} if declared else {}
    readable = {}  # columns a reader sees as they were exported
    for name in types:
        c = classified.get(name)
        if c is None:
            readable[name] = (None, UNCLASSIFIED)
        elif c.transform == "encrypt":
            readable[name] = (c.category, ENCRYPTED if types[name] == "BLOB" else PLAIN)
        elif c.transform == "pseudonymise" or name == SUBJECT_COLUMN:
            readable[name] = (c.category, PSEUDONYMISED)
        elif c.transform == "redact":
            readable[name] = (c.category, REDACTED)
        elif c.category == "non_personal":
            readable[name] = (c.category, NON_PERSONAL)
        elif c.category == "direct_identifier":
            readable[name] = (c.category, PLAIN)
        else:
            readable[name] = (c.category, None)  # decided below: beside a pseudonym, or beside plain identity
    identified = any(p == PLAIN for _, p in readable.values())
    return [ColumnExposure(name, cat, prot or (PLAIN if identified else BESIDE_PSEUDONYM),
                           getattr(classified.get(name), "about", None))
            for name, (cat, prot) in readable.items()]


def table_verdict(t: TableExposure) -> str:
    """One line per table: what a finder of the file can read of it."""
    if plain := t.having(PLAIN):
        return f"PLAIN PERSONAL DATA: {', '.join(plain)}"
    if t.personal:
        beside = t.having(BESIDE_PSEUDONYM)
        return "ciphertext and pseudonyms only" + (f"; readable beside the pseudonym: {', '.join(beside)}" if beside else "")
    unclassified = t.having(UNCLASSIFIED)
    return "no personal data" + (f"; not classified: {', '.join(unclassified)}" if unclassified else "")


# The verdict's sentences in English and Dutch (the notification draft has both, as the register).
_SAY = {
    "en": {
        "plain": "Plain personal data exposed: {cols}. Anyone holding the file can read these and attribute them "
                 "to a person, so Art. 34(3)(a) does not apply to them: inform the data subjects without undue delay "
                 "when the breach is likely to result in a high risk to their rights and freedoms (Art. 34(1)).",
        "protected": "No plain personal data: {encrypted}, subjects only by pseudonym. Art. 34(3)(a) can apply "
                     "(the data is unintelligible to the finder) as long as the key folder {keys} (master.key, "
                     "pseudonym.key, keystore.sqlite), a backup of it, or the values of KLANTKLUIS_MASTER_KEY and "
                     "KLANTKLUIS_PSEUDONYM_KEY were not exposed too. If they were, the ciphertext decrypts and the "
                     "pseudonyms can be recomputed from customer numbers: the answer is then that of plain personal "
                     "data (notify the subjects when the risk is high, Art. 34(1)).",
        "beside": "Readable beside the pseudonym, and personal data still (Art. 4(5)): {cols}; weigh whether a "
                  "combination of them singles someone out.",
        "redacted": "Redacted free text: {cols}; redaction misses some personal data (its recall is below 100 %, "
                    "see `klantkluis redaction-eval`), so a few names or numbers may be readable there.",
        "none": "No personal data in the file: a breach unlikely to result in a risk to anyone needs no "
                "notification (Art. 33(1)), but is recorded all the same (Art. 33(5)).",
        "unclassified": "Not classified, so not judged: {cols}; look at what they hold.",
        "encrypted": "direct identifiers only as ciphertext ({n} columns)",
        "no direct": "no direct identifier in the file",
    },
    "nl": {
        "plain": "Leesbare persoonsgegevens gelekt: {cols}. Wie het bestand heeft, kan ze lezen en aan een persoon "
                 "koppelen, dus art. 34 lid 3 onder a geldt er niet voor: informeer de betrokkenen onverwijld als de "
                 "inbreuk waarschijnlijk een hoog risico voor hun rechten en vrijheden inhoudt (art. 34 lid 1).",
        "protected": "Geen leesbare persoonsgegevens: {encrypted}, betrokkenen alleen onder pseudoniem. Art. 34 "
                     "lid 3 onder a kan gelden (de gegevens zijn onbegrijpelijk voor wie ze vond) zolang de "
                     "sleutelmap {keys} (master.key, pseudonym.key, keystore.sqlite), een back-up ervan of de "
                     "waarden van KLANTKLUIS_MASTER_KEY en "
                     "KLANTKLUIS_PSEUDONYM_KEY niet ook zijn gelekt. Als dat wel zo is, is de versleuteling te openen "
                     "en zijn de pseudoniemen uit klantnummers te herleiden: dan geldt het antwoord voor leesbare "
                     "persoonsgegevens (informeer de betrokkenen bij een hoog risico, art. 34 lid 1).",
        "beside": "Leesbaar naast het pseudoniem, en nog steeds persoonsgegevens (art. 4 punt 5): {cols}; weeg of "
                  "een combinatie ervan iemand herkenbaar maakt.",
        "redacted": "Afgeschermde vrije tekst: {cols}; het afschermen mist een deel van de persoonsgegevens (minder "
                    "dan 100 %, zie `klantkluis redaction-eval`), dus enkele namen of nummers kunnen er leesbaar zijn.",
        "none": "Geen persoonsgegevens in het bestand: een inbreuk die waarschijnlijk geen risico voor iemand "
                "inhoudt, hoeft niet gemeld te worden (art. 33 lid 1), maar wordt wel vastgelegd (art. 33 lid 5).",
        "unclassified": "Niet geclassificeerd, dus niet beoordeeld: {cols}; bekijk wat ze bevatten.",
        "encrypted": "direct identificerende gegevens alleen versleuteld ({n} kolommen)",
        "no direct": "geen direct identificerende gegevens in het bestand",
    },
}


def verdict(assessment: Assessment, key_dir: str, lang: str = "en") -> list[str]:
    """Whether the file exposed plain personal data (naming the columns) or only ciphertext and
    pseudonyms, and what that means for informing the data subjects (Art. 34(1), 34(3)(a))."""
    say, found = _SAY[lang], {}
    for t in assessment.tables:
        for c in t.columns:
            found.setdefault(c.protection, []).append(f"{t.name}.{c.name}")
    if found.get(PLAIN):
        lines = [say["plain"].format(cols=", ".join(found[PLAIN]))]
    elif any(t.personal for t in assessment.tables):
        encrypted = say["encrypted"].format(n=len(found[ENCRYPTED])) if found.get(ENCRYPTED) else say["no direct"]
        lines = [say["protected"].format(encrypted=encrypted, keys=key_dir)]
        if found.get(BESIDE_PSEUDONYM):
            lines.append(say["beside"].format(cols=", ".join(found[BESIDE_PSEUDONYM])))
    else:
        lines = [say["none"]]
    if found.get(REDACTED):
        lines.append(say["redacted"].format(cols=", ".join(found[REDACTED])))
    if found.get(UNCLASSIFIED):
        lines.append(say["unclassified"].format(cols=", ".join(found[UNCLASSIFIED])))
    return lines


def render(assessment: Assessment, key_dir: str) -> str:
    """The assessment as the command line prints it: counts and column names, never a value."""
    what = {"duckdb": "DuckDB file", "parquet": "Parquet file", "landing": "landing file"}[assessment.kind]
    subjects = "" if assessment.subjects is None else f", {assessment.subjects:,} distinct data subjects"
    n = len(assessment.tables)
    out = [f"Breach assessment of {assessment.file} ({what}): {n} table{'' if n == 1 else 's'}, "
           f"{assessment.records:,} rows of personal data{subjects}", ""]
    for t in assessment.tables:
        who = "" if t.subjects is None else f", {t.subjects:,} subjects" + (f" ({t.kind})" if t.kind else "")
        out.append(f"{t.name}: {t.rows:,} row{'' if t.rows == 1 else 's'}{who}")
        named = [(c.name, (c.category or "-") + (f" (about: {c.about})" if c.about else ""), c.protection)
                 for c in t.columns]
        width = [max((len(n[i]) for n in named), default=0) for i in (0, 1)]
        out += [f"  {name:<{width[0]}}  {category:<{width[1]}}  {protection}" for name, category, protection in named]
        out += [f"  -> {table_verdict(t)}", ""]
    out += ["Verdict:", *(f"  {line}" for line in verdict(assessment, key_dir)), "", "Protection:"]
    out += [f"  {name}: {meaning}" for name, meaning in LEGEND.items()]
    return "\n".join(out)
