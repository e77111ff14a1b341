"""The retention sweep (GDPR Art. 5(1)(e), 17(1)(a)): after ingest, before dbt staging, every day.

The sweep deletes or anonymises what `privacy/policy.yml` says is due, in the raw layer and the
snapshot history (see `privacy.retention`); dbt then rebuilds the marts and the publish asset
replaces the BI copies, so the daily job selects all of them. `no_row_past_retention` proves the
result twice: on the sweep (raw and snapshots) and on the published marts (marts and copies hold
no subject that the swept source layer no longer holds).
"""

import contextlib
import os
import sqlite3
from datetime import datetime, timedelta, timezone
from functools import partial

import duckdb
from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, AssetKey,
                     AssetSelection, DefaultScheduleStatus, MaterializeResult, MetadataValue, RunRequest, RunsFilter,
                     ScheduleEvaluationContext, SkipReason, asset, asset_check, define_asset_job, get_dagster_logger,
                     schedule)

from expectations.suites import ID_COLUMNS
from orchestration.compaction import compact_warehouse, record_deletion, uncompacted_since
from orchestration.requests.changes import rectifications_lost, withdraw_again
from orchestration.requests.erasure import record_pending, unfinished
from orchestration.requests.service import RequestService
from orchestration.resources import KlantkluisResource, run_time
from orchestration.settings import DBT_PROJECT_DIR, TIME_ZONE, sql_string
from privacy import breach_register, retention
from privacy.classification import load_classification
from privacy.exceptions import AuditTampered
from privacy.policy import load_policy
from privacy.rights.erasure import erase_again

SWEEP_KEY = AssetKey(["privacy", "retention_sweep"])
PUBLISHED_KEY = AssetKey(["published", "marts"])
CHECK = "no_row_past_retention"
RECTIFIED_CHECK = "rectifications_in_warehouse"
ANCHOR_CHECK, ROWS_WITHOUT_ANCHOR = "retention_anchors_set", "rows_without_anchor"
OWNERS = ["team:privacy-office"]
TOMBSTONES, COMPACTION, UNCOMPACTED = "erasure_tombstones", "deleted_rows_in_file", "uncompacted_deletions_since"
RUN_HISTORY = "run_history"
INDEX_FREE_SHARE = 0.25  # Dagster's event index is compacted once this share of its pages is free
DAILY = timedelta(days=1)  # the sweep runs at least daily: compact a day before the rule's limit
RECENT = timedelta(hours=2)  # a sweep at a time this recent (full_refresh at 02:00) makes the 03:00 job redundant


def _table(counts: dict[str, int], header: str) -> MetadataValue:
    rows = "".join(f"| {k} | {v} |\n" for k, v in counts.items())
    return MetadataValue.md(f"| {header} | rows |\n|---|---|\n{rows}" if counts else "No tables.")


def _overdue(con, now) -> dict[str, int]:
    return retention.plan(con, load_classification(DBT_PROJECT_DIR), load_policy(), now=now, ids=ID_COLUMNS).counts()


def _without_anchor(context, held) -> dict[str, int]:
    """Rows kept without their retention anchor past its due time (``retention.held_without_anchor``):
    one warning naming the fix, and their rows per table and rule; counts only, never a row's values."""
    counts = {f"{h.table} ({h.rule}, {h.anchor})": h.rows for h in held}
    if counts:
        listed = ", ".join(f"{k}: {n}" for k, n in counts.items())
        context.log.warning(
            f"{sum(counts.values())} row(s) of {sum(h.subjects for h in held)} subject(s) are kept without the date "
            f"their retention period counts from, past its due time: {listed}. Not deleted (a decision for the "
            "controller): set the date in the source system and load its export again, or change the rule in "
            "privacy/policy.yml (check retention_anchors_set)")
    return counts


def _request_files(context, klantkluis: KlantkluisResource, now: datetime) -> dict[str, int]:
    """Remove request documents, exports and records past their rules, also when no request comes
    in (orchestration.requests.file_retention). A failure here must not hold back the rest of the
    sweep, so it is a warning (the class name only: a message could quote a file name)."""
    try:
        with RequestService(klantkluis.paths) as service:
            return service.remove_expired(now)
    except (OSError, sqlite3.Error) as exc:
        context.log.warning(f"Request files past their retention were not removed ({type(exc).__name__}); "
                            "the next sweep or the next request tries again")
        return {}


def _audit_entries(context, klantkluis: KlantkluisResource, policy, now: datetime) -> int | None:
    """Remove audit log entries past the rule ``audit_log``; None when the log does not verify. Such
    a log is left for the privacy officer to investigate: a warning, and the rest of the sweep goes on."""
    try:
        return retention.expire_audit(klantkluis.paths.audit(), policy, now=now)
    except AuditTampered:
        context.log.warning("The audit log does not verify, so none of its entries expired; run "
                            "`klantkluis audit-verify` and investigate")
        return None


def _breach_records(context, klantkluis: KlantkluisResource, policy, audit, now: datetime) -> int:
    """Remove the breaches recorded before the rule ``breach_register`` from the register, with
    their draft notifications (``privacy.breach_register.expire``); returns how many. A failure is a
    warning (the class name only), as for the request files: the next sweep tries again."""
    def record(gone: list[str]) -> None:  # before anything is removed: no expiry goes unrecorded (Art. 5(2))
        audit.append("breach_records_expired", now=now, rule=breach_register.RULE, breaches=gone)

    try:
        gone = breach_register.expire(klantkluis.paths.breaches, klantkluis.paths.breach_drafts, policy, now=now,
                                      before_removal=record)
    except OSError as exc:
        context.log.warning(f"Breach records past their retention were not removed ({type(exc).__name__}); "
                            "the next sweep tries again")
        return 0
    except ValueError as exc:  # a damaged register: for the privacy officer to put right
        context.log.warning(str(exc))
        return 0
    return len(gone)


def _run_history(context, policy, audit, now: datetime) -> int:
    """Remove Dagster's record of the runs past the rule ``run_history`` (their logs, step events and
    metadata), so the instance's storage does not grow without bound (Art. 5(1)(e)); by Dagster's own
    clock, as it stamps runs (a simulated run's time does not age them). At most 1,000 per sweep.
    Returns how many went."""
    rule = policy.retention.get(RUN_HISTORY)
    if rule is None:
        return 0
    before = rule.cutoff(datetime.now(timezone.utc))
    old = context.instance.get_run_ids(RunsFilter(created_before=before), limit=1000)
    for run_id in old:
        context.instance.delete_run(run_id)
        _remove_run_files(context.instance, run_id)
    if old:
        audit.append("run_history_expired", now=now, rule=RUN_HISTORY, count=len(old))
        _vacuum_run_index(context.instance)
    return len(old)


def _vacuum_run_index(instance) -> int | None:
    """Rewrite the event index of a local instance (``history/runs/index.db``) without the space its
    deleted runs left, once that is a quarter of it: SQLite keeps freed pages in the file, so it never
    shrank below its largest size. Only while no run but the sweep's own is going (VACUUM needs the
    file to itself; a writer waits for it); a failure is a warning, and the next sweep tries again.
    Returns the bytes given back, or None when it did not run."""
    from dagster import DagsterRunStatus

    shard = getattr(instance.event_log_storage, "path_for_shard", None)  # SQLite storage only
    going = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    if shard is None or not os.path.exists(index := shard("index")) \
            or len(instance.get_run_ids(RunsFilter(statuses=going), limit=2)) > 1:
        return None
    try:
        with contextlib.closing(sqlite3.connect(index, timeout=0, isolation_level=None)) as con:
            free, pages, size = (con.execute(f"pragma {p}").fetchone()[0]
                                 for p in ("freelist_count", "page_count", "page_size"))
            if free < pages * INDEX_FREE_SHARE:
                return None
            con.execute("vacuum")
            con.execute("pragma wal_checkpoint(truncate)")  # in WAL mode the file shrinks at the checkpoint
    except sqlite3.Error as exc:
        get_dagster_logger().warning(f"Dagster's event index was not compacted ({type(exc).__name__}); "
                                     "the next sweep tries again")
        return None
    get_dagster_logger().info(f"Compacted Dagster's event index: {free * size:,} bytes of removed runs given back")
    return free * size


def _remove_run_files(instance, run_id: str) -> None:
    """The files a deleted run leaves on a local instance: ``delete_run`` empties its rows, not its
    event-log shard (``history/runs/<id>.db``, about a megabyte each) nor its captured log lines
    (``storage/<id>/compute_logs/``), which would stay past the rule and pile up a run a day."""
    with contextlib.suppress(NotImplementedError, OSError):
        instance.compute_log_manager.delete_logs(prefix=[run_id])
    shard = getattr(instance.event_log_storage, "path_for_shard", None)  # SQLite storage: one file per run
    if shard is not None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(shard(run_id) + suffix)


def _swept_by_ingest(context, ingest_keys: list[AssetKey]) -> bool:
    """Whether an ingest step of this run deleted or anonymised rows past retention."""
    for key in ingest_keys:
        event = context.instance.get_latest_materialization_event(key)
        swept = event.asset_materialization.metadata.get("past_retention_swept") if event else None
        if event is not None and event.run_id == context.run.run_id and swept is not None and swept.value:
            return True
    return False


def _compact_when_due(context, klantkluis: KlantkluisResource, policy, now: datetime, deleted: bool, audit) -> str:
    """Rewrite the warehouse without the bytes deleted rows left in its free space once the oldest
    such deletion nears its rule ``deleted_rows_in_file`` (Art. 5(1)(e)): a rewrite costs as much
    as a build step at scale (1 M customers: 21 s), so not every day. Returns the time of the oldest
    deletion not rewritten out yet ("" when none). A rewrite that fails is left to the next sweep:
    the run goes on to rebuild and publish what was swept."""
    paths = klantkluis.paths
    since = record_deletion(paths, now) if deleted else uncompacted_since(paths)
    rule = policy.retention.get(COMPACTION)
    if not since or rule is None or now + DAILY < datetime.fromisoformat(since) + timedelta(days=rule.duration_days):
        return since
    try:
        with klantkluis.waiting_while_busy():
            done = compact_warehouse(paths)
    except (OSError, RuntimeError, duckdb.Error) as exc:
        context.log.warning(f"The warehouse could not be rewritten without the deleted rows' bytes "
                            f"({type(exc).__name__}); the next sweep tries again")
        audit.append("warehouse_compaction_failed", now=now, rule=COMPACTION, deleted_since=since,
                     error=type(exc).__name__)
        return since
    audit.append("warehouse_compacted", now=now, rule=COMPACTION, deleted_since=since, **done)
    context.log.info(f"Rewrote the warehouse without the deleted rows' bytes ({done['bytes_before']:,} -> "
                     f"{done['bytes_after']:,} bytes, {done['seconds']:.1f} s)")
    return ""


def build_retention_sweep(ingest_keys: list[AssetKey]):
    """The sweep asset, downstream of the ingest assets; dbt staging models depend on it."""
    @asset(
        key=SWEEP_KEY, group_name="privacy", owners=OWNERS, kinds={"python", "duckdb"}, deps=ingest_keys,
        description="Storage limitation (Art. 5(1)(e), 17(1)(a)): deletes or anonymises the rows of the raw "
                    "layer and the snapshot history that are past their retention rule (privacy/policy.yml: "
                    "duration after an anchor date) at the run's time, in one transaction, and writes one audit "
                    "entry per table (counts only); then destroys the data keys and look-up index entries of "
                    "subjects with no row left (and erases again a subject an erasure shredded whose rows a "
                    "restored backup brought back, records again the consent withdrawals and objections it "
                    "lacks, and names the rectifications it lacks, to file again), counts the rows kept without "
                    "the date their period counts from past its due time (a warning: they are not deleted), and "
                    "rewrites the warehouse file without the deleted rows' bytes before their rule "
                    "(deleted_rows_in_file) runs out; removes rejected request documents, access exports, "
                    "request records, erasure tombstones, audit log entries, recorded breaches and Dagster's "
                    "record of runs past their rules. Runs after ingest and before dbt staging.",
        check_specs=[AssetCheckSpec(CHECK, asset=SWEEP_KEY, blocking=True,
                                    description="After the sweep no row of the raw layer or a snapshot is past "
                                                "its retention rule at the run's time. When it fails, nothing "
                                                "downstream is built or published: its per_table names the tables "
                                                "with rows left past their rule. Run the job retention_sweep again "
                                                "while nothing else writes the warehouse; if rows stay, compare the "
                                                "rule's anchor column in privacy/policy.yml with the table, and the "
                                                "sweep's audit entries (`klantkluis audit --event retention_sweep`)."),
                     AssetCheckSpec(RECTIFIED_CHECK, asset=SWEEP_KEY,
                                    description="Every completed rectification is still in the warehouse (Art. 16, "
                                                "5(1)(d)). A warehouse restored from a backup older than the request "
                                                "holds the inaccurate value again, and the corrected one was kept "
                                                "nowhere else: file each request the run's log names again "
                                                "(klantkluis requests lists them)"),
                     AssetCheckSpec(ANCHOR_CHECK, asset=SWEEP_KEY,
                                    description="No row is kept past its due time without the date its retention "
                                                "period counts from (Art. 5(1)(e)): an ended customer without its "
                                                "relationship end, or a row whose anchor is still empty a whole "
                                                "period after its first load (a ticket never closed). The sweep "
                                                "keeps such rows, it does not delete them (a decision for the "
                                                "controller): per_table names each table, rule and anchor. Set the "
                                                "date in the source system and load its export again (a record is "
                                                "judged on its latest row: a later export with a ticket's closed_at "
                                                "set, or the same file corrected), or change the rule in "
                                                "privacy/policy.yml")],
    )
    def retention_sweep(context: AssetExecutionContext, klantkluis: KlantkluisResource) -> MaterializeResult:
        now = run_time(context)
        policy, classification = load_policy(), load_classification(DBT_PROJECT_DIR)
        audit = klantkluis.paths.audit()
        with klantkluis.connect() as con, RequestService(klantkluis.paths) as service:
            due, done = retention.sweep(con, classification, policy, now=now, audit=audit, ids=ID_COLUMNS)
            con.execute("checkpoint")  # swept rows leave the write-ahead log for the database file
            # the proof: planned again after a sweep that had rows due (a plan that found none is the proof)
            left = retention.plan(con, classification, policy, now=now, ids=ID_COLUMNS).counts() \
                if due.rows else due.counts()
            held = retention.subjects_left(con)
            erased = erase_again(con, held, keystore=service.keystore, classification=classification, policy=policy,
                                 audit=audit, now=now, unfinished=unfinished(service.ledger),
                                 record=partial(record_pending, service.ledger))
            if erased:
                context.log.warning(f"{len(erased)} erased subject(s) had rows in the warehouse (restored from a "
                                    "backup older than their erasure, or an erasure stopped after destroying the key "
                                    "and before its deletions, whose request is taken up again within 30 minutes): "
                                    "erased, as their requests do")
            events = classification.table("consent_events", "source")
            service.keystore.expire_withdrawals(policy.retention[events.column("occurred_at").retention].cutoff(now))
            withdrawn = withdraw_again(service, con, now)
            if withdrawn:
                context.log.warning(f"{len(withdrawn)} subject(s) lacked a consent withdrawal or objection their "
                                    "request had recorded (the warehouse restored from a backup older than the "
                                    "request?): recorded again, as their requests did")
            unanchored = _without_anchor(context, retention.held_without_anchor(con, classification, policy, now=now,
                                                                                ids=ID_COLUMNS))
            lost = rectifications_lost(service, con)
            if lost:
                context.log.warning(f"The warehouse holds none of the corrected versions of rectification "
                                    f"{', '.join(lost)} (restored from a backup older than the request?): the "
                                    "corrected value was kept nowhere else; file the request again")
            # rows go here and in each ingest step of the run, which sweeps its own table after loading
            deleted = any(done.values()) or bool(erased) or _swept_by_ingest(context, ingest_keys)
            # every sweep, not only one that deleted: a run stopped between a deletion and this step
            # (or an erasure's, a reload's) left subjects whose keys no later deletion would retire
            retired = retention.retire_subjects(con, service.keystore, service.ledger.index,
                                                left=held - set(erased), now=now, audit=audit)
            tombstones = service.keystore.expire_tombstones(rule.cutoff(now)) \
                if (rule := policy.retention.get(TOMBSTONES)) else 0
            if tombstones:
                audit.append("erasure_tombstones_expired", now=now, rule=TOMBSTONES, count=tombstones)
        uncompacted = _compact_when_due(context, klantkluis, policy, now, deleted, audit)
        files = _request_files(context, klantkluis, now)
        expired = _audit_entries(context, klantkluis, policy, now)
        runs = _run_history(context, policy, audit, now)
        breaches = _breach_records(context, klantkluis, policy, audit, now)
        swept = {f"{s.table} ({s.rule}, {s.action})": done[s.relation] for s in due.steps}
        per_table = {f"rows/{s.table}": done[s.relation] for s in due.steps}
        context.log.info(f"Retention sweep at {now.isoformat()}: {sum(done.values())} rows deleted or anonymised, "
                         f"{sum(files.values())} request documents, exports or records removed, "
                         f"{expired or 0} audit entries past their rule removed")
        check = AssetCheckResult(
            check_name=CHECK, passed=not any(left.values()), severity=AssetCheckSeverity.ERROR,
            metadata={"rows_past_retention": sum(left.values()), "per_table": _table(left, "table")})
        rectified = AssetCheckResult(check_name=RECTIFIED_CHECK, passed=not lost, severity=AssetCheckSeverity.WARN,
                                     metadata={"requests": ", ".join(lost) or "none"})
        anchors = AssetCheckResult(check_name=ANCHOR_CHECK, passed=not unanchored, severity=AssetCheckSeverity.WARN,
                                   metadata={ROWS_WITHOUT_ANCHOR: sum(unanchored.values()),
                                             "per_table": _table(unanchored, "table (rule, anchor)")})
        return MaterializeResult(check_results=[check, rectified, anchors], metadata={
            ROWS_WITHOUT_ANCHOR: sum(unanchored.values()),
            "as_of": now.isoformat(), "rows_swept": sum(done.values()),
            "per_table": _table(swept, "table (rule, action)"), **per_table,
            **{f"files/{rule}": n for rule, n in files.items()}, "audit_entries_expired": expired or 0,
            "audit_log_verifies": expired is not None, **{f"retired/{k}": n for k, n in retired.items()},
            "erasures_reapplied": len(erased),
            "withdrawals_reapplied": len(withdrawn), f"{RUN_HISTORY}_expired": runs,
            "breach_records_expired": breaches,
            f"{TOMBSTONES}_expired": tombstones, UNCOMPACTED: uncompacted})

    return retention_sweep


@asset_check(asset=PUBLISHED_KEY, name=CHECK, blocking=True,
             description="No row past retention in the raw layer or snapshots, and no subject in the marts or "
                         "the published copies (DuckDB file and Parquet) that the swept raw layer lacks. When it "
                         "fails, its per_table names each table or copy with such rows: run full_refresh again, so "
                         "the sweep runs, dbt rebuilds the marts from the swept raw layer and the copies are "
                         "replaced; a copy that stays was written by something else (only publish may write "
                         "published/).")
def published_retention_check(context, klantkluis: KlantkluisResource) -> AssetCheckResult:
    published = klantkluis.paths.published
    current = published / "parquet" / "current"
    with klantkluis.connect(read_only=True) as con:
        counts = _overdue(con, run_time(context))
        marts = [t for (t,) in con.execute("select distinct table_name from information_schema.columns "
                                           "where table_schema = 'marts' and column_name = 'subject_id'").fetchall()]
        labels = {f"marts.{t}": f'marts."{t}"' for t in marts}
        labels |= {f"published/parquet/{t}.parquet": f"read_parquet({sql_string(str(current / t) + '.parquet')})"
                   for t in marts if (current / f"{t}.parquet").exists()}
        if (published / "marts.duckdb").exists():
            con.execute(f"attach {sql_string(str(published / 'marts.duckdb'))} as published (read_only)")
            labels |= {f"published/marts.duckdb:{t}": f'published.main."{t}"' for (t,) in con.execute(
                "select distinct table_name from information_schema.columns where table_catalog = 'published' "
                "and column_name = 'subject_id'").fetchall()}
        unknown = retention.unknown_subjects(con, list(labels.values()))
        counts |= {label: unknown[relation] for label, relation in labels.items()}
    return AssetCheckResult(
        passed=not any(counts.values()), severity=AssetCheckSeverity.ERROR,
        metadata={"rows_past_retention": sum(counts.values()), "per_table": _table(counts, "table")})


def swept_since(instance, since: datetime) -> bool:
    """True when the latest sweep applied the retention rules at a time (its ``as_of``) at or after
    ``since`` and a publish followed it: the sweep then reached every layer already (the daily
    full refresh runs it an hour before this job)."""
    swept = instance.get_latest_materialization_event(SWEEP_KEY)
    published = instance.get_latest_materialization_event(PUBLISHED_KEY)
    if not (swept and published and swept.timestamp <= published.timestamp):
        return False
    as_of = swept.asset_materialization.metadata.get("as_of")
    return as_of is not None and datetime.fromisoformat(as_of.value) >= since


def build_retention_job(dbt_assets, *other_keys: AssetKey):
    """The daily retention job (sweep, all dbt assets, `other_keys`) and its schedule, 03:00 Amsterdam time."""
    job = define_asset_job(
        "retention_sweep", selection=AssetSelection.assets(SWEEP_KEY, *other_keys) | AssetSelection.assets(dbt_assets),
        description="Sweep what is past retention, rebuild the dbt models and snapshots, the register and the "
                    "published copies, so the sweep reaches every layer (Art. 5(1)(e)).")

    # On from the start: storage limitation (Art. 5(1)(e)) must not wait for someone to switch it on.
    @schedule(name="retention_sweep_daily", job=job, cron_schedule="0 3 * * *", execution_timezone=TIME_ZONE,
              default_status=DefaultScheduleStatus.RUNNING,
              description="Runs the retention job at 03:00 unless a run (normally full_refresh at 02:00) swept "
                          "at a time within the last 2 hours and published after it.")
    def retention_sweep_daily(context: ScheduleEvaluationContext):
        since = context.scheduled_execution_time - RECENT
        if swept_since(context.instance, since):
            return SkipReason(f"The retention sweep and a publish after it ran since {since.isoformat()}: "
                              "every layer is swept for today.")
        return RunRequest()

    return job, retention_sweep_daily
