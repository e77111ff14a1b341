"""Where a data subject's rows are: every warehouse relation with a ``subject_id`` column.

Found from the catalogue at run time rather than from a list, so a mart added later is part of
every access export (Art. 15) and every erasure (Art. 17) without a code change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from privacy.tables import Classification, Table

SUBJECT_COLUMN = "subject_id"
LAYERS = {"raw": "source", "snapshots": "snapshot", "staging": "model", "intermediate": "model", "marts": "model"}
_ORDER = list(LAYERS)


@dataclass(frozen=True)
class Relation:
    """A warehouse table or view with a ``subject_id`` column: part of every access export
    (Art. 15) and every erasure (Art. 17)."""
    schema: str
    name: str
    is_view: bool
    columns: tuple[str, ...]

    @property
    def dataset(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        return f'"{self.schema}"."{self.name}"'

    def classified(self, classification: Classification) -> Table | None:
        """The table's classification (Art. 30(1)(c)), or None if it is not declared."""
        try:
            return classification.table(self.name, LAYERS.get(self.schema))
        except KeyError:
            return None


def subject_relations(con, *, views: bool = True) -> list[Relation]:
    """Every table (and, with ``views``, view) of the open database with a subject_id column."""
    # duckdb_columns() rather than information_schema: the same answer, without a cold start of
    # most of a second on a large file.
    found = con.execute(
        "select c.schema_name, c.table_name, v.view_name is not null, list(c.column_name order by c.column_index) "
        "from duckdb_columns() c left join duckdb_views() v on v.database_name = c.database_name "
        "and v.schema_name = c.schema_name and v.view_name = c.table_name "
        "where c.database_name = current_database() and not c.internal "
        "group by all having list_contains(list(c.column_name), ?) order by all", [SUBJECT_COLUMN]).fetchall()
    relations = [Relation(s, n, bool(v), tuple(cols)) for s, n, v, cols in found if views or not v]
    return sorted(relations, key=lambda r: (_ORDER.index(r.schema) if r.schema in _ORDER else len(_ORDER), r.schema, r.name))


def fetch(con, relation: Relation, subject_ids: Sequence[str]) -> tuple[list[str], list[tuple]]:
    """Column names and rows of ``relation`` about ``subject_ids``."""
    if not subject_ids:
        return list(relation.columns), []
    marks = ", ".join("?" * len(subject_ids))
    cur = con.execute(f"select * from {relation.sql} where {SUBJECT_COLUMN} in ({marks})", list(subject_ids))
    return [d[0] for d in cur.description], cur.fetchall()


def recorded(con, subject_ids: list[str]) -> list[str]:
    """The subjects among ``subject_ids`` with a row in any raw table (their CRM record may be
    quarantined, not exported yet, or past its retention while their consent events remain): a
    request by a number nobody has, or by an erased subject, must not create data about them
    (Art. 5(1)(c)). An erased subject has no row left: kept orders carry ``anon-`` ids."""
    tables = [r for r in subject_relations(con, views=False) if r.schema == "raw"]
    if not tables or not subject_ids:
        return []
    marks = ", ".join("?" * len(subject_ids))
    found = {r[0] for r in con.execute(" union ".join(
        f"select subject_id from {t.sql} where subject_id in ({marks})" for t in tables),
        subject_ids * len(tables)).fetchall()}
    return [s for s in subject_ids if s in found]


def column_types(con, schema: str, table: str) -> dict[str, str]:
    """Column name -> type of ``schema.table`` in the open database, in column order; empty when
    there is no such table."""
    return dict(con.execute("select column_name, data_type from duckdb_columns() where database_name = "
                            "current_database() and schema_name = ? and table_name = ? order by column_index",
                            [schema, table]).fetchall())
