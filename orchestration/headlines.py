"""Headline figures of the aggregate marts: the Pareto share, the latest complete period's NPS, how
far behind the sources are. Each is the mart's own query in its dbt YAML (``meta.headline``, with
``{this}`` for the mart's table), shown in the run summary and as the mart's materialization
metadata, which the Dagster UI plots over the runs.

Aggregates only (GDPR Art. 5(1)(c), 25(2)): a mart with a ``subject_id`` column holds one row per
person, and its figures would put personal data in the Dagster storage, so it gets none."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from orchestration.project import manifest_nodes
from privacy.classification import node_meta
from privacy.rights.warehouse import SUBJECT_COLUMN


class HeadlineError(ValueError):
    """A mart's headline is left out; the message names the mart and why (never a value)."""


def figures(con: duckdb.DuckDBPyConnection, node: dict) -> dict[str, Any]:
    """{column: value} of the first row of the node's ``meta.headline`` query; empty without a
    headline or a row. Numbers stay numbers (the UI plots them), dates become ISO text."""
    query = node_meta(node).get("headline")
    if not query:
        return {}
    if SUBJECT_COLUMN in (node.get("columns") or {}):
        raise HeadlineError(f"The headline figures of {node['name']} are left out: a mart with {SUBJECT_COLUMN} "
                            "has a row per person; give meta.headline to an aggregate mart")
    try:
        cursor = con.execute(query.replace("{this}", f'"{node["schema"]}"."{node["alias"]}"'))
        row = cursor.fetchone()
    except duckdb.Error as exc:  # its message may quote a value: only its kind is told
        raise HeadlineError(f"The headline figures of {node['name']} are left out: its meta.headline query "
                            f"failed ({type(exc).__name__}); run it in DuckDB to see why") from None
    if row is None:
        return {}
    return {d[0]: _plain(v) for d, v in zip(cursor.description, row) if v is not None}


def all_figures(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """mart name -> its headline figures, for every model with a headline that has a row (the
    build's own step warns about one left out)."""
    out = {}
    for node in sorted(manifest_nodes().values(), key=lambda n: n["name"]):
        if node.get("resource_type") == "model":
            try:
                if found := figures(con, node):
                    out[node["name"]] = found
            except HeadlineError:
                continue
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
