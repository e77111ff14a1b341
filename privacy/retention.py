"""Retention: which rows are past their rule at ``now``, and the sweep that removes them.

Storage limitation, GDPR Art. 5(1)(e): data is kept no longer than its purpose needs, and once
the period is over it is erased without undue delay (Art. 17(1)(a)). The rules are in
``policy.yml`` (``duration_days`` after an ``anchor`` column; ``delete`` or ``anonymise``); a
table's rule is that of its ``subject_id`` column, else the one rule its columns share.

Event anchors (order_date, occurred_at, responded_at, loaded_at) are decided per record on its
latest row, where the caller names the table's record id (``ids``: a record exported again once its
anchor changed, a ticket closed after an export while open), else per row; state anchors
(relationship_end, last_contact_at; a lead never contacted: created_at) per subject, on its latest
export row. Either way as dbt staging reads them, and then all the record's or subject's rows go.
Snapshot history keeps only subjects its raw source keeps. Anonymised orders (fiscal duty over) keep date, amounts and
categories; subject_id becomes a random token per row (``anon-...``: one person's orders are no
longer linkable, not-null tests hold) and the landing line is cleared. A row whose anchor is empty
has no period running and is kept: ``held_without_anchor`` counts those past their due time, for
the sweep's warning (nothing is deleted).
"""

import hashlib
import secrets
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from privacy.exceptions import PolicyError
from privacy.policy import Policy, RetentionRule, load_policy
from privacy.rights.warehouse import column_types, subject_relations
from privacy.tables import Classification, Table
from privacy.transaction import transaction

ANONYMOUS_PREFIX = "anon-"
SCHEMAS = {"source": "raw", "snapshot": "snapshots"}
ROW_ACTIONS = ("delete", "anonymise")  # the policy's actions the sweep applies to rows
_FALLBACK = {"last_contact_at": ("created_at",)}
_STATE_ANCHORS = {"relationship_end", "last_contact_at"}
# When an empty anchor is due where the row itself tells (``held_without_anchor``): an ended customer
# has its end date. An active one's empty end is the relationship going on, never due.
_DUE_WHEN = {"relationship_end": "status = 'ended'"}
_LATEST_FIRST = ("exported_at", "_source_file", "_source_line")
_ANONYMISED = f"starts_with(coalesce(subject_id, '{ANONYMOUS_PREFIX}'), '{ANONYMOUS_PREFIX}')"  # a row done
# A landing time (ISO 8601 text) in UTC, read as dbt staging reads it (dbt_project/macros/
# utc_timestamp.sql): a written offset is applied, a time without one is UTC already.
_UTC_TEXT = ("case when regexp_matches({c}, '[T ]\\d\\d:\\d\\d(:\\d\\d(\\.\\d+)?)? ?(Z|[+-]\\d\\d(:?\\d\\d)?)$') "
             "then timezone('UTC', try_cast({c} as timestamptz)) else try_cast({c} as timestamp) end")


@dataclass(frozen=True)
class Step:
    """One table's part of a sweep: ``rows`` match ``predicate`` (SQL over the table's columns)
    (Art. 5(1)(e))."""
    relation: str
    rule: str
    action: str
    predicate: str
    rows: int
    subjects: int
    sets: str = ""

    @property
    def table(self) -> str:
        """``schema.table`` as counts and the audit log name it (the relation without quotes)."""
        return self.relation.replace('"', "")


@dataclass(frozen=True)
class Plan:
    """The sweep at ``now``: one `Step` per table with rows past their rule (Art. 5(1)(e))."""
    now: datetime
    steps: tuple[Step, ...]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.steps)

    def counts(self) -> dict[str, int]:
        """Rows past retention per table (``schema.table``): counts only, fit for the audit log."""
        return {s.table: s.rows for s in self.steps}


def table_rule(table: Table, policy: Policy) -> RetentionRule | None:
    """The table's retention rule (Art. 5(1)(e)): its subject_id's, else the one its columns share."""
    names = {c.name: c.retention for c in table.columns}
    shared = set(names.values())
    return policy.retention.get(names.get("subject_id") or (shared.pop() if len(shared) == 1 else ""))


def check_anchors(classification: Classification, policy: Policy) -> None:
    """PolicyError when a raw table of subjects' rows names a retention rule the policy lacks (a new
    source's rule not written yet: its rows would load with no rule the sweep can apply), or a rule
    that deletes or anonymises raw rows has an anchor that is not a column of a table it governs (a
    misspelt ``anchor: ocurred_at``): found before a run, not by every ingest step after its load
    (Art. 5(1)(e))."""
    for table in classification:
        named = next((c.retention for c in table.columns if c.name == "subject_id"), None)
        if table.layer == "source" and table.subject and named and named not in policy.retention:
            raise PolicyError(f"The policy file {policy.path} has no retention rule {named!r}, which the subject_id of "
                              f"raw.{table.name} names: add it under retention (duration_days, anchor and action), "
                              "or name an existing rule in the table's meta.privacy, then run again.")
        rule = table_rule(table, policy) if table.layer == "source" else None
        if rule is None or rule.action not in ROW_ACTIONS:
            continue
        if _anchor(rule, {c.name for c in table.columns}) is None:
            raise PolicyError(f"The policy file {policy.path}, retention rule {rule.name!r}: anchor {rule.anchor!r} is "
                              f"not a column of raw.{table.name}, which the rule governs. Fix the file, then run again.")


def plan(con, classification: Classification, policy: Policy | None = None, *, now: datetime,
         ids: Mapping[str, str], tables: set[str] | None = None) -> Plan:
    """The rows past retention at ``now`` in the raw layer and the snapshots (Art. 5(1)(e), 17(1)(a)),
    or only in the raw or snapshot ``tables`` named. ``ids``: a raw table's record id column
    (``expectations.ID_COLUMNS``), by which its rows are judged per record on the latest.

    Read-only; a plan with zero rows is the proof that nothing is kept too long."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    policy = policy or load_policy()
    types = _types(con, SCHEMAS.values())
    kept: dict[RetentionRule, list[str]] = {}
    steps = []
    chosen = (t for t in classification if t.layer in SCHEMAS and (tables is None or t.name in tables))
    for table in sorted(chosen, key=lambda t: t.layer != "source"):
        rule, relation = table_rule(table, policy), f'{SCHEMAS[table.layer]}."{table.name}"'
        if relation not in types or rule is None or rule.action not in ROW_ACTIONS:
            continue
        cols = types[relation]
        if table.layer == "source":
            predicate = _expired(relation, cols, rule, now, _record_id(table, cols, ids))
            if "subject_id" in cols:
                kept.setdefault(rule, []).append(
                    f"select subject_id from {relation} where subject_id is not null and not ({predicate})")
        elif "subject_id" in cols and rule in kept:
            predicate = f"subject_id not in ({' union '.join(kept[rule])})"
        else:
            continue
        steps.append(_step(con, table, relation, cols, rule, predicate))
    return Plan(now, tuple(steps))


@dataclass(frozen=True)
class Held:
    """One raw table's rows kept without their retention anchor past their due time (see
    ``held_without_anchor``): counts only."""
    table: str
    rule: str
    anchor: str
    rows: int
    subjects: int


def held_without_anchor(con, classification: Classification, policy: Policy, *, now: datetime,
                        ids: Mapping[str, str]) -> tuple[Held, ...]:
    """The rows of the raw layer whose retention period cannot start because their anchor is empty
    (a ticket never closed, an ended customer without its end date), per table with such rows
    (Art. 5(1)(e)). The sweep keeps such a row until its anchor is set, so it would be kept for ever
    in silence; it is counted once its anchor is due: an ended customer at once, any other row once
    it has been held its rule's period since the first load of its file's content (``raw._batches``,
    as the rule ``landing_files`` counts; a record or subject since its first row's). Judged as the
    sweep judges them (see ``plan``): per record or subject on its latest row, then counting all its
    rows (a ticket closed in a later export is no longer held), else per row. Nothing is deleted: what
    to do with a row whose period is unknown is the controller's decision (set the anchor in the
    source, or change the rule)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    types = _types(con, ["raw"])
    if 'raw."_batches"' not in types:
        return ()
    held = []
    for table in classification:
        rule, relation = table_rule(table, policy), f'raw."{table.name}"'
        if table.layer != "source" or relation not in types or rule is None or rule.action not in ROW_ACTIONS:
            continue
        cols = types[relation]
        predicate = _unanchored(relation, cols, rule, now, _record_id(table, cols, ids))
        if predicate is None:
            continue
        subject = "subject_id" if "subject_id" in cols else "null"
        rows, subjects = con.execute(f"select count(*), count(distinct {subject}) from {relation} "
                                     f"where {predicate}").fetchone()
        if rows:
            held.append(Held(f"raw.{table.name}", rule.name, _anchor(rule, cols), rows, subjects))
    return tuple(held)


def apply(con, retention_plan: Plan) -> dict[str, int]:
    """Delete or anonymise what ``retention_plan`` found, in one transaction (Art. 5(1)(e), 17(1)(a));
    returns the rows changed per table. Snapshot steps give the same answer before or after raw ones.
    A step the plan counted no rows for is not run: nothing writes between plan and apply (DuckDB
    has one writer), and most days most tables have nothing due (1 M customers: 3 s a sweep)."""
    done = {step.relation: 0 for step in retention_plan.steps}
    with transaction(con):
        for step in (s for s in retention_plan.steps if s.rows):
            sql = (f"update {step.relation} set {step.sets} where {step.predicate}" if step.action == "anonymise"
                   else f"delete from {step.relation} where {step.predicate}")
            with token_salt(con):
                done[step.relation] = con.execute(sql).fetchone()[0]
    return done


def sweep(con, classification: Classification, policy: Policy, *, now: datetime, audit,
          ids: Mapping[str, str], tables: set[str] | None = None) -> tuple[Plan, dict[str, int]]:
    """Plan and apply (see ``tables`` and ``ids`` of ``plan``), with one audit entry per table: counts,
    never values (Art. 5(1)(e), 5(2)). Returns the plan and the rows changed per table."""
    due = plan(con, classification, policy, now=now, tables=tables, ids=ids)
    done = apply(con, due)
    for step in due.steps:
        rule = policy.retention[step.rule]
        audit.append("retention_sweep", now=now, table=step.table, rule=step.rule,
                     action=step.action, rows=done[step.relation], subjects=step.subjects,
                     duration_days=rule.duration_days, anchor=rule.anchor)
    return due, done


def subjects_left(con) -> set[str]:
    """Whose data the warehouse still holds: the subject ids of the raw layer and the snapshot
    history, and the key of each quarantined batch whose rows have no readable subject."""
    relations = [r for r in subject_relations(con, views=False) if r.schema in ("raw", "snapshots")]
    left = {s for (s,) in con.execute(" union ".join(f"select subject_id from {r.sql}" for r in relations)
                                      ).fetchall()} if relations else set()
    return left | {quarantine_key(b) for (b,) in _rows(con, "_quarantine", "select distinct batch_id from "
                                                                          "raw._quarantine where subject_id is null")}


def retire_subjects(con, keystore, index, *, left: set[str], now: datetime, audit) -> dict[str, int]:
    """Storage limitation beside the warehouse (Art. 5(1)(e)): a subject none of whose rows is left
    in the raw layer (the quarantine included) or the snapshot history (not in ``left``, from
    ``subjects_left``), all past their rules, has their data key destroyed (``KeyStore.retire``),
    so the encrypted bytes that deleted rows leave in the file's free space can no longer be read,
    and their e-mail entries dropped from the blind
    index (a rectified address too); so are the name entries of a loaded file none of whose rows
    is left. The index also reads landing files not loaded yet (a later landing day, a file
    failing to load): their entries stay. One audit entry, counts only. Returns the counts."""
    relations = [r for r in subject_relations(con, views=False) if r.schema in ("raw", "snapshots")]
    loaded = set(_rows(con, "_batches", "select distinct source, file from raw._batches"))
    files_left = set(_rows(con, "_quarantine", "select distinct source, file from raw._quarantine")) | {
        (r.name, f) for r in relations if r.schema == "raw" and "_source_file" in r.columns
        for (f,) in con.execute(f"select distinct _source_file from {r.sql}").fetchall()}
    gone = sorted((keystore.subject_ids() | index.indexed_subjects()) - left)
    raw_tables = {r.name for r in relations if r.schema == "raw"}
    unloaded = {(source, file) for source, file in index.indexed_files() - loaded if source in raw_tables}
    done = {"keys_destroyed": keystore.retire(gone),
            "email_entries": index.forget_subjects(gone, keep=unloaded),
            "name_entries": index.forget_files(loaded - files_left)}
    audit.append("subjects_retired", now=now, **done)
    return done


def quarantine_key(batch_id: str) -> str:
    """Whose key encrypts a quarantined row without a readable subject: its batch's (Art. 32(1)(a))."""
    return hashlib.sha256(f"quarantine:{batch_id}".encode()).hexdigest()


def _rows(con, table: str, sql: str) -> list[tuple]:
    """The rows of ``sql`` over the load metadata ``raw.<table>``; none before its first load."""
    return con.execute(sql).fetchall() if column_types(con, "raw", table) else []


AUDIT_RULE = "audit_log"


def expire_audit(audit, policy: Policy, *, now: datetime) -> int:
    """The audit log's own storage limitation (Art. 5(1)(e)): its entries older than the rule
    ``audit_log`` are removed, and where the log was cut is recorded in it (``AuditLog.expire``).
    Returns how many entries went; 0 under a policy without the rule."""
    rule = policy.retention.get(AUDIT_RULE)
    if rule is None:
        return 0
    return audit.expire(rule.cutoff(now), rule=AUDIT_RULE, now=now)


def unknown_subjects(con, relations: list[str]) -> dict[str, int]:
    """Per relation, rows whose subject_id appears in no table of the raw layer, the layer the sweep
    and erasure act on: data of a swept or erased subject that survived in a mart or a published
    copy (Art. 5(1)(e), 17). The load metadata (``raw._quarantine``, ``raw._batches``) does not count."""
    if not relations:
        return {}
    known = " union ".join(f'select subject_id from raw."{t}" where subject_id is not null' for (t,) in con.execute(
        "select distinct table_name from information_schema.columns where table_catalog = current_database() "
        "and table_schema = 'raw' and left(table_name, 1) <> '_' and column_name = 'subject_id'").fetchall()) \
        or "select null as subject_id where false"
    # One statement: the known subjects are computed once. Read from raw, not from the staging views,
    # which would dedupe every source again (10 M orders: 1.8 s instead of 5.1 s for 18 relations).
    counts = " union all ".join(f"select {i} as i, count(*) as n from {r} where subject_id not in "
                                "(select subject_id from known)" for i, r in enumerate(relations))
    found = dict(con.execute(f"with known as materialized ({known}) {counts}").fetchall())
    return {r: found[i] for i, r in enumerate(relations)}


def anonymised_columns(table: Table, present) -> list[str]:
    """The columns anonymisation clears (retention, Art. 5(1)(e); erasure under a legal duty to
    keep, Art. 17(3)(b)): every direct and quasi-identifier of `table` among `present`, and the
    landing line, which would lead back to the landing file. The subject id gets a random token,
    and a record id declared ``anonymise: token`` an unlinkable one (see ``token_sets``)."""
    return [c.name for c in table.columns if c.name != "subject_id" and c.name in present
            and (c.category in ("direct_identifier", "quasi_identifier") or c.name == "_source_line")
            and c.anonymise == "clear"]


def tokenised_columns(table: Table, present) -> list[str]:
    """The record ids of `table` among `present` declared ``anonymise: token`` (see ``token_sets``)."""
    return [c.name for c in table.columns if c.anonymise == "token" and c.name in present]


_SALT = "klantkluis_token_salt"


def token_sets(columns: list[str]) -> str:
    """SQL assignments that replace each record id in ``columns`` (an order id: the source system's
    key, which leads back to the customer there) by ``anon-`` and a hash under a random salt that
    is never stored (Art. 5(1)(e), 17(3)(b)); run them inside ``token_salt``. Equal ids get equal
    tokens under one salt, so two exports of one order still deduplicate to one. An order exported
    again after its anonymisation, or a reloaded file re-anonymised, gets another token: such an
    order counts twice in staging (anonymised orders count in no subject's mart). Once the salt is
    gone, no one can compute a token from an order id."""
    return ", ".join(f'"{c}" = \'{ANONYMOUS_PREFIX}\' || sha256(getvariable(\'{_SALT}\') || "{c}")' for c in columns)


@contextmanager
def token_salt(con):
    """A fresh random salt for ``token_sets`` while the body runs: a session variable, never in the
    SQL text (which error messages quote), forgotten afterwards."""
    con.execute(f"set variable {_SALT} = ?", [secrets.token_hex(16)])
    try:
        yield
    finally:
        con.execute(f"reset variable {_SALT}")


def _step(con, table: Table, relation: str, cols: dict[str, str], rule: RetentionRule, predicate: str) -> Step:
    sets = ""
    if rule.action == "anonymise":
        predicate = f"({predicate}) and not {_ANONYMISED}"
        nulls = anonymised_columns(table, cols)
        tokened = token_sets(tokenised_columns(table, cols))
        sets = ", ".join([f"subject_id = '{ANONYMOUS_PREFIX}' || replace(cast(uuid() as varchar), '-', '')"]
                         + [f'"{c}" = null' for c in nulls] + ([tokened] if tokened else []))
    rows, subjects = con.execute(f"select count(*), count(distinct {'subject_id' if 'subject_id' in cols else 'null'}) "
                                 f"from {relation} where {predicate}").fetchone()
    return Step(relation, rule.name, rule.action, predicate, rows, subjects, sets)


def _utc(column: str, cols: dict[str, str]) -> str:
    """`column` as a UTC timestamp: a timestamptz converted, a timestamp as it is, text parsed."""
    if cols[column].startswith("TIMESTAMP WITH"):
        return f'timezone(\'UTC\', "{column}")'
    return f'"{column}"' if cols[column].startswith(("TIMESTAMP", "DATE")) else _UTC_TEXT.format(c=f'"{column}"')


def latest_first(cols: dict[str, str]) -> str:
    """ORDER BY terms that put a subject's latest version first: by export time (in UTC) where the
    table has one, then by landing file and line (a later file's row is the later version)."""
    keys = [_utc(c, cols) if c == "exported_at" else f'"{c}"' for c in _LATEST_FIRST if c in cols]
    return ", ".join(f"{k} desc nulls last" for k in keys)  # as staging: engines differ on where nulls go


def _anchor(rule: RetentionRule, columns) -> str | None:
    """The column a rule's duration counts from: its anchor, or for a load record (``_loaded_at``)
    the same name without the underscore; None when the table has neither."""
    return next((a for a in (rule.anchor, rule.anchor.lstrip("_")) if a in columns), None)


def _types(con, schemas) -> dict[str, dict[str, str]]:
    """Column -> data type per relation (``schema."table"``) of the ``schemas``."""
    types: dict[str, dict[str, str]] = {}
    for schema, name, column, kind in con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_schema in (select unnest(?))", [list(schemas)]).fetchall():
        types.setdefault(f'{schema}."{name}"', {})[column] = kind
    return types


def _dated(relation: str, cols: dict[str, str], rule: RetentionRule) -> str:
    """The moment (UTC) a row's period counts from, null when its anchor is empty or unreadable."""
    anchor = _anchor(rule, cols)
    if anchor is None:
        raise ValueError(f"retention rule {rule.name!r}: anchor {rule.anchor!r} is not a column of {relation}")
    # Naive text times are UTC, as dbt staging casts them; timestamptz is converted to UTC.
    return f"coalesce({', '.join(_utc(c, cols) for c in (anchor, *_FALLBACK.get(anchor, ())) if c in cols)})"


def _before(rule: RetentionRule, now: datetime) -> str:
    return f"< timestamp '{rule.cutoff(now).replace(tzinfo=None).isoformat(sep=' ')}'"


def _per_subject(relation: str, cols: dict[str, str], test: str, among: str = "") -> str:
    """The rows of the subjects whose latest row passes ``test`` (how a state anchor is judged), of
    those with a row that passes ``among`` if given (fewer subjects to rank)."""
    where = f" where subject_id in (select subject_id from {relation} where {among})" if among else ""
    return (f"subject_id in (select subject_id from (select subject_id, {test} as hit, row_number() over "
            f"(partition by subject_id order by {latest_first(cols)}) as n from {relation}{where}) "
            "where n = 1 and hit)")


def _per_record(relation: str, cols: dict[str, str], test: str, record: str | None, among: str,
                alone: str = "", held: str = "") -> str:
    """The rows whose record's latest row passes ``test`` (and of whose rows one passes ``held``, if
    given), ranking only the rows of the records with a row that passes ``among``: the few due that
    day, not every order of ten years (10 M orders: plan() as fast as per row). A row without a
    record id, or of a table without one, passes ``alone`` (else ``test``) on its own."""
    if record is None:
        return alone or test
    rows = (f"select rowid as _row, * from {relation} where {record} in (select {record} from {relation} where "
            f"{among}) union all select rowid, * from {relation} where {record} is null and {among}")
    record_rows = f"partition by {record}, case when {record} is null then _row end"
    last = f"first_value({test}) over ({record_rows} order by {latest_first(cols)})"
    last += f" and bool_or({held}) over ({record_rows})" if held else ""
    return f"rowid in (select _row from ({rows}) qualify {last})"


def _record_id(table: Table, cols: dict[str, str], ids: Mapping[str, str] | None) -> str | None:
    """The quoted record id column of a raw ``table`` named in ``ids`` and present in ``cols``."""
    column = ids.get(table.name) if table.layer == "source" else None
    return f'"{column}"' if column in cols else None


def _expired(relation: str, cols: dict[str, str], rule: RetentionRule, now: datetime, record: str | None) -> str:
    test = f"{_dated(relation, cols, rule)} {_before(rule, now)}"
    if _anchor(rule, cols) in _STATE_ANCHORS:
        return _per_subject(relation, cols, test)
    # rows anonymised already pass the test for ever, and are records of their own (a token id)
    pending = f"not {_ANONYMISED} and " if rule.action == "anonymise" else ""
    return _per_record(relation, cols, test, record, among=f"{pending}{test}")


def _unanchored(relation: str, cols: dict[str, str], rule: RetentionRule, now: datetime,
                record: str | None) -> str | None:
    """SQL over ``relation``: its rows without their anchor whose anchor is due (``held_without_anchor``);
    None for a table whose rows record no load."""
    anchor, empty = _anchor(rule, cols), f"{_dated(relation, cols, rule)} is null"
    state = anchor in _STATE_ANCHORS
    # each `case` tests the cheap condition first and parses the anchor of only the rows it selects
    # (10 M orders: 0.1 s instead of 1.4 s when none was loaded a period ago)
    if anchor in _DUE_WHEN:  # the row itself tells
        test = f"case when {_DUE_WHEN[anchor]} then {empty} else false end"
        return _per_subject(relation, cols, test, among=test) if state else test
    if "_batch_id" not in cols:
        return None
    loaded = (f"_batch_id in (select batch_id from raw._batches qualify min(timezone('UTC', loaded_at)) over "
              f"(partition by source, file, sha256) {_before(rule, now)})")  # content first loaded before the cut-off
    if state:  # a subject is held since its first row's load, however recent its latest export
        return _per_subject(relation, cols, empty, among=loaded)
    # a record likewise (of the records with an empty row: its latest is one), held since its first row's load
    return _per_record(relation, cols, empty, record, among=empty, held=loaded,
                       alone=f"case when {loaded} then {empty} else false end")
