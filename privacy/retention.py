"""Retention: which rows are past their rule at ``now``, and the sweep that removes them.

Storage limitation, GDPR Art. 5(1)(e): data is kept no longer than its purpose needs, and once
the period is over it is erased without undue delay (Art. 17(1)(a)). The rules are in
``policy.yml`` (``duration_days`` after an ``anchor`` column; ``delete`` or ``anonymise``); a
table's rule is that of its ``subject_id`` column, else the one rule its columns share.

Event anchors (order_date, occurred_at, responded_at, loaded_at) are decided per row. State
anchors (relationship_end, last_contact_at) are decided per subject on its latest export row, as
dbt staging reads it, and then all the subject's rows go; a lead never contacted is anchored on
``created_at``. Snapshot history follows its raw source: versions of subjects no longer kept
there are deleted. Anonymising (orders after the fiscal duty) keeps date, amounts and categories,
gives ``subject_id`` a random token per row (``anon-...``, so one person's orders cannot be
linked again and not-null tests hold), nulls other identifying columns and the landing line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from privacy.policy import Policy, RetentionRule, load_policy
from privacy.tables import Classification, Table

ANONYMOUS_PREFIX = "anon-"
SCHEMAS = {"source": "raw", "snapshot": "snapshots"}
_FALLBACK = {"last_contact_at": ("created_at",)}
_STATE_ANCHORS = {"relationship_end", "last_contact_at"}
_LATEST_FIRST = ("exported_at", "_source_file", "_source_line")


@dataclass(frozen=True)
class Step:
    """One table's part of a sweep: ``rows`` match ``predicate`` (SQL over the table's columns)."""

    relation: str
    rule: str
    action: str
    predicate: str
    rows: int
    subjects: int
    sets: str = ""


@dataclass(frozen=True)
class Plan:
    now: datetime
    steps: tuple[Step, ...]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.steps)


def table_rule(table: Table, policy: Policy) -> RetentionRule | None:
    """The table's retention rule (Art. 5(1)(e)): its subject_id's, else the one its columns share."""
    names = {c.name: c.retention for c in table.columns}
    shared = set(names.values())
    name = names.get("subject_id") or (shared.pop() if len(shared) == 1 else None)
    return policy.retention.get(name) if name else None


def plan(con, now: datetime, classification: Classification, policy: Policy | None = None,
         schemas: dict[str, str] = SCHEMAS) -> Plan:
    """The rows past retention at ``now`` in the raw layer and the snapshots (Art. 5(1)(e), 17(1)(a)).

    Read-only; a plan with zero rows is the proof that nothing is kept too long."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    policy = policy or load_policy()
    types: dict[str, dict[str, str]] = {}
    for schema, name, column, kind in con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_schema in (select unnest(?))", [list(schemas.values())]).fetchall():
        types.setdefault(f'{schema}."{name}"', {})[column] = kind
    sources = {t.name: t for t in classification if t.layer == "source"}
    expired: dict[str, str] = {}
    steps = []
    for table in sorted((t for t in classification if t.layer in schemas), key=lambda t: t.layer != "source"):
        rule = table_rule(table, policy)
        relation = f'{schemas[table.layer]}."{table.name}"'
        if relation not in types or rule is None or rule.action not in ("delete", "anonymise"):
            continue
        cols = types[relation]
        if table.layer == "source":
            predicate = _expired(relation, cols, rule, now)
            expired[table.name] = predicate
        else:
            kept = [f'select subject_id from {schemas["source"]}."{n}" where subject_id is not null and not ({p})'
                    for n, p in expired.items() if table_rule(sources[n], policy) == rule and "subject_id" in cols]
            if not kept:
                continue
            predicate = f"subject_id not in ({' union '.join(kept)})"
        sets = ""
        if rule.action == "anonymise":
            predicate = f"({predicate}) and not starts_with(coalesce(subject_id, '{ANONYMOUS_PREFIX}'), '{ANONYMOUS_PREFIX}')"
            nulls = [c.name for c in table.columns if c.name != "subject_id" and c.name in cols
                     and (c.category in ("direct_identifier", "quasi_identifier") or c.name == "_source_line")]
            sets = ", ".join([f"subject_id = '{ANONYMOUS_PREFIX}' || replace(cast(uuid() as varchar), '-', '')"]
                             + [f'"{c}" = null' for c in nulls])
        rows, subjects = con.execute(
            f"select count(*), count(distinct {'subject_id' if 'subject_id' in cols else 'null'}) "
            f"from {relation} where {predicate}").fetchone()
        steps.append(Step(relation, rule.name, rule.action, predicate, rows, subjects, sets))
    return Plan(now, tuple(steps))


def apply(con, retention_plan: Plan) -> dict[str, int]:
    """Delete or anonymise what ``retention_plan`` found, all in one transaction (Art. 5(1)(e), 17(1)(a)).

    Returns the rows changed per table. A snapshot step keeps the subjects its raw source keeps,
    so it gives the same answer before or after the raw step."""
    done = {}
    con.execute("begin")
    try:
        for step in retention_plan.steps:
            sql = (f"update {step.relation} set {step.sets} where {step.predicate}" if step.action == "anonymise"
                   else f"delete from {step.relation} where {step.predicate}")
            done[step.relation] = con.execute(sql).fetchone()[0]
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return done


def unknown_subjects(con, relations: list[str], reference_schema: str = "staging") -> dict[str, int]:
    """Per relation, rows whose subject_id appears in no ``reference_schema`` relation: data of a
    swept or erased subject that survived in a mart or a published copy (Art. 5(1)(e), 17)."""
    refs = [f'select subject_id from {s}."{t}"' for s, t in con.execute(
        "select distinct table_schema, table_name from information_schema.columns "
        "where table_schema = ? and column_name = 'subject_id'", [reference_schema]).fetchall()]
    known = " union ".join(refs) or "select null as subject_id where false"
    return {r: con.execute(f"select count(*) from {r} where subject_id is not null and subject_id not in "
                           f"(select subject_id from ({known}) where subject_id is not null)").fetchone()[0]
            for r in relations}


def _expired(relation: str, cols: dict[str, str], rule: RetentionRule, now: datetime) -> str:
    anchor = next((a for a in (rule.anchor, rule.anchor.lstrip("_")) if a in cols), None)
    if anchor is None:
        raise ValueError(f"retention rule {rule.name!r}: anchor {rule.anchor!r} is not a column of {relation}")
    moments = [_moment(c, cols[c]) for c in (anchor, *_FALLBACK.get(anchor, ())) if c in cols]
    cutoff = (now - timedelta(days=rule.duration_days)).astimezone(timezone.utc).replace(tzinfo=None)
    test = f"coalesce({', '.join(moments)}) < timestamp '{cutoff.isoformat(sep=' ')}'"
    if anchor not in _STATE_ANCHORS:
        return test
    order = ", ".join(f'"{c}" desc' for c in _LATEST_FIRST if c in cols)
    return (f"subject_id in (select subject_id from (select subject_id, {test} as past, row_number() over "
            f"(partition by subject_id order by {order}) as n from {relation}) where n = 1 and past)")


def _moment(column: str, kind: str) -> str:
    # Naive text times are UTC, as dbt staging casts them; timestamptz is converted to UTC.
    return f'timezone(\'UTC\', "{column}")' if kind.startswith("TIMESTAMP WITH") else f'try_cast("{column}" as timestamp)'
