"""Headline figures of the aggregate marts: the Pareto share, the latest complete period's NPS, how
far behind the sources are. Each is the mart's own query in its dbt YAML (``meta.headline``, with
``{this}`` for the mart's table), shown in the run summary and as the mart's materialization
metadata (``headline/<column>``), which the Dagster UI plots over the runs.

Aggregates only (GDPR Art. 5(1)(c), 25(2)): a headline reads its own mart and nothing else, and a
mart with a ``subject_id`` column, one row per person, gets none, so no figure puts personal data in
the Dagster storage."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from orchestration.project import dbt_project, manifest_nodes
from privacy.classification import node_meta
from privacy.rights.warehouse import SUBJECT_COLUMN, column_types

PREFIX = "headline/"  # of the metadata keys: a figure never replaces the event's own metadata
_THIS = "headline_this"


class HeadlineError(ValueError):
    """A mart's headline is left out; the message names the mart and why (never a value)."""


def figures(con: duckdb.DuckDBPyConnection, node: dict) -> dict[str, Any]:
    """{column: value} of the one row of the node's ``meta.headline`` query; empty without a
    headline or a row. Numbers stay numbers (the UI plots them), times become ISO text, a
    duration its seconds, and a null stays None."""
    query = node_meta(node).get("headline")
    if not query:
        return {}
    name, table = node["name"], f'{node["schema"]}.{node["alias"]}'

    def refuse(why: str) -> HeadlineError:
        return HeadlineError(f"The headline figures of {name} are left out: {why}")

    _reads_only_this(query, refuse)
    if SUBJECT_COLUMN in column_types(con, node["schema"], node["alias"]):
        raise refuse(f"a mart with {SUBJECT_COLUMN} has a row per person; give meta.headline to an aggregate mart")
    try:
        cursor = con.execute(query.replace("{this}", table))
        rows = cursor.fetchmany(2)
    except duckdb.Error as exc:  # its message may quote a value: only its kind is told
        raise refuse(f"its meta.headline query failed ({type(exc).__name__}); run it in DuckDB to see why") from None
    if len(rows) > 1:
        raise refuse("its meta.headline query returns more than one row")
    return {d[0]: _figure(d[0], v, refuse) for d, v in zip(cursor.description, rows[0])} if rows else {}


def all_figures(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """mart name -> its headline figures, for every model with a headline that has a row (the
    build's own step warns about one left out); none without the dbt manifest (`make` writes it)."""
    if not dbt_project.manifest_path.is_file():
        return {}
    out = {}
    for node in sorted(manifest_nodes().values(), key=lambda n: n["name"]):
        if node.get("resource_type") == "model":
            try:
                if found := figures(con, node):
                    out[node["name"]] = found
            except HeadlineError:
                continue
    return out


def _reads_only_this(query: str, refuse) -> None:
    """One statement whose only table is ``{this}``: no other mart's rows, no file."""
    try:
        statements = sqlglot.parse(query.replace("{this}", _THIS))
    except sqlglot.errors.SqlglotError:
        raise refuse("its meta.headline is no SQL query that can be read") from None
    tables = [t for s in statements if s is not None for t in s.find_all(exp.Table)]
    if len(statements) != 1 or not tables or any(
            t.name != _THIS or t.db or not isinstance(t.this, exp.Identifier) for t in tables):
        raise refuse("its meta.headline must be one query that reads {this}, its own mart, and nothing else")


def _figure(column: str, value: Any, refuse) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise refuse(f"its column {column} is a {type(value).__name__}; a figure is a number, text or time")
