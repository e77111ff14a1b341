"""The classified tables and columns, as plain immutable data.

Filled from the dbt YAML by :mod:`privacy.classification`; read by the ingest writer, the
register of processing activities (GDPR Art. 30(1)(c)) and the retention sweep (Art. 5(1)(e)).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CATEGORIES = ("direct_identifier", "quasi_identifier", "special_category", "non_personal")
TRANSFORMS = ("pseudonymise", "encrypt", "redact", "age_band", "postcode_area", "keep")
LOAD_COLUMNS = ("_source_file", "_source_line", "_batch_id")
RECTIFIED = "_rectified"  # the fields a rectification corrected in the row (Art. 16), kept when its file is reloaded
BOOKKEEPING = (*LOAD_COLUMNS, RECTIFIED)  # raw columns we write, which no landing file holds
# "clear": set to null. "token": replaced by an unlinkable token, for a record id that rows keep
# needing to tell records apart (an order id: staging deduplicates orders by it).
ANONYMISE = ("clear", "token")


@dataclass(frozen=True)
class Column:
    """A column's classification: category, purposes, legal basis and retention rule
    (Art. 30(1)(c), 5(1)(e))."""
    name: str
    category: str | None
    purposes: tuple[str, ...]
    legal_basis: str | None
    retention: str | None
    transform: str = "keep"
    from_column: str = ""
    description: str = ""
    optional: bool = False  # a landing file may lack it (meta.ingest.optional); loaded as null
    anonymise: str = "clear"  # what anonymisation does to an identifier (meta.privacy.anonymise): see ANONYMISE
    # Whom the value is about when that is not the row's subject (meta.privacy.about): a subject
    # category of the policy, such as the employee an employee code names (Art. 30(1)(c)).
    about: str | None = None
    # meta.title: its heading in an access export, per language (Art. 12(1)); see Table.title
    title: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Subject:
    """Whom a table's rows are about: the subject category and the natural key column its
    pseudonymous ``subject_id`` is made from (Art. 4(5), 30(1)(c))."""
    kind: str
    key: str


@dataclass(frozen=True)
class Table:
    """A classified table (source, model or snapshot) and its columns (Art. 30(1)(c))."""
    name: str
    layer: str
    columns: tuple[Column, ...]
    subject: Subject | None = None
    source: str | None = None
    path: Path | None = None
    description: str = ""
    # meta.plain of a mart: what it does, in clear language for data subjects (Art. 12(1), 15(1)(h))
    plain: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # meta.title of a table that holds subjects' rows: its heading in an access export (Art. 12(1), 15(3))
    title: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Classification:
    """Every classified table of the dbt project (Art. 30(1)(c)); ``undeclared``: the model and
    snapshot files no YAML declares."""
    project_dir: Path
    tables: tuple[Table, ...]
    undeclared: tuple[Path, ...] = ()

    def table(self, name: str, layer: str | None = None) -> Table:
        """The table called ``name`` (in ``layer`` if given); ``KeyError`` if absent."""
        for t in self.tables:
            if t.name == name and layer in (None, t.layer):
                return t
        raise KeyError(name)

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables)


@dataclass(frozen=True)
class Finding:
    """A classification problem that fails the build (Art. 5(1)(b), (c), (e); 30(1)(c)): a table or
    column (``*`` for the whole table) and what is wrong with it."""
    table: str
    column: str
    problem: str
