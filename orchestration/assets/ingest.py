"""One ingest asset per landing source, all writing through the single raw-layer writer.

Each asset carries a blocking `expectations` check: the source's expectation suite (Art. 5(1)(d))
reported as rule names and row counts, never values. It fails while a current landing
file breaks a table-level rule (such as a missing column) or has more than `max_quarantine_share`
of its rows quarantined, judged on each file's latest load, so re-running does not pass it.
"""

from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from dagster import (AssetCheckResult, AssetCheckSpec, AssetKey, AssetsDefinition, Failure, MaterializeResult,
                     MetadataValue, asset)

from expectations.suites import ID_COLUMNS
from orchestration.compaction import compact_if_due_now, record_deletion
from orchestration.ingest import landing_retention
from orchestration.ingest.encrypt_plain import encrypt_plain, pad_written_before
from orchestration.ingest.landing_zone import column_notes, file_columns
from orchestration.ingest.quarantine import passes_gate
from orchestration.ingest.reader import LandingFileError, release_read_memory
from orchestration.ingest.schema import LATEST_LOAD_FIRST, ensure_raw_tables
from orchestration.ingest.sources import (absent, going_back_in_time, landing_day, name_problem, no_files_message,
                                          pending_days)
from orchestration.ingest.writer import BatchResult, content_key, load_file
from orchestration.resources import AS_OF_TAG, RELOAD_TAG, THROUGH_TAG, KlantkluisResource, run_time, through_day
from orchestration.settings import DBT_PROJECT_DIR
from privacy import retention
from privacy.classification import load_classification
from privacy.exceptions import PolicyError
from privacy.policy import load_policy
from privacy.rights.warehouse import column_types

OWNERS = ["team:data-engineering"]


def _rules_table(rules: Counter) -> MetadataValue:
    table = "| rule | rows |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in sorted(rules.items()))
    return MetadataValue.md(table if rules else "No rule broken.")


def _cell(text: str) -> str:
    """``text`` as one cell of a Markdown table: a file may be named with a '|'."""
    return text.replace("|", "\\|")


def _columns_table(found: list) -> MetadataValue:
    """Per file, the header's names not read and the optional columns it lacks (names only)."""
    rows = [f"| {_cell(f.file)} | {', '.join(f.not_read)} | "
            + ", ".join(f"{c} (null; {f.before} had it)" if c in f.lost else c for c in f.missing) + " |"
            for f in found if f.not_read or f.missing]
    return MetadataValue.md("| file | columns not read | optional columns missing |\n|---|---|---|\n" + "\n".join(rows)
                            if rows else "Every file has every column and no other.")


def _files_table(results: list[BatchResult]) -> MetadataValue:
    """Per landing file this run read, what became of its rows (file names and counts only)."""
    rows = [f"| {_cell(r.file)} | unchanged, skipped | | | | |" if r.skipped else
            f"| {_cell(r.file)} | loaded | {r.input_rows} | {r.loaded} | {r.quarantined} | {r.suppressed} |" for r in results]
    return MetadataValue.md("| file | this run | rows in | loaded | quarantined | suppressed |\n|---|---|---|---|---|---|\n"
                            + "\n".join(rows) if rows else "No landing file.")


def _summary(results: list[BatchResult]) -> tuple[dict, Counter]:
    loaded = [r for r in results if not r.skipped]
    rules: Counter = Counter()
    for r in loaded:
        rules.update(r.rule_counts)
    counts = {"files_loaded": len(loaded), "files_unchanged": len(results) - len(loaded),
              "input_rows": sum(r.input_rows for r in loaded), "loaded": sum(r.loaded for r in loaded),
              "quarantined": sum(r.quarantined for r in loaded), "suppressed": sum(r.suppressed for r in loaded),
              "reconciles": all(r.reconciles() for r in loaded)}
    return counts, rules


def _gate(con, source: str, files: list[str]) -> list[tuple[str, int, int, str | None]]:
    """(file, input rows, quarantined, table-level failures) of the latest load of each current file:
    the gate judges every file the raw layer holds rows of, so an unchanged file that failed it
    fails it again in the next run (it is skipped, not read again), until it is fixed."""
    if not files:
        return []
    return con.execute(
        "select file, input_rows, quarantined, table_failures from raw._batches where source = ? and file in "
        f"({', '.join('?' * len(files))}) qualify row_number() over (partition by file order by "
        f"{LATEST_LOAD_FIRST}) = 1 order by file", [source, *files]).fetchall()


def _held_rules(con, source: str, files: list[str] | None = None) -> Counter:
    """Rows of ``source`` held in the quarantine per rule, of ``files`` only if given (the gate's:
    the latest load of each)."""
    if files == []:
        return Counter()
    where = f" and file in ({', '.join('?' * len(files))})" if files else ""
    return Counter(dict(con.execute(f"select rule, count(*) from raw._quarantine where source = ?{where} "
                                    "group by rule", [source, *(files or [])]).fetchall()))


def _refuse_going_back_in_time(context, con, table, now, audit) -> None:
    """Stop a run whose time (`--as-of`, or the clock after a simulated later run) is before this
    source's last load (`klantkluis run` refuses it before it starts; this covers runs from the UI).
    Columns declared since an older version made the table are added first (ensure_raw_tables)."""
    if added := ensure_raw_tables(con, [table], audit, now):
        context.log.info(f"{', '.join(added)}: declared since this table was made, now added to it (null in the rows "
                         "loaded before)")
    last = con.execute("select max(loaded_at) from raw._batches where source = ?", [table.name]).fetchone()[0]
    if problem := going_back_in_time(now, last, table.name):
        raise Failure(f"{problem} From the Dagster UI: give the tag {AS_OF_TAG} such a time, or leave it out (the "
                      "run's own time).")


def _new_days(context, con, paths, source: str, files: list, through: str | None) -> list[str]:
    """The landing days of `files` this source has not loaded any of yet: one per run keeps each
    day's state in the snapshots (dbt snapshots once per run, after every ingest step).

    A run tagged with its day (`klantkluis run`, the daily schedule) stops when an earlier day is
    still pending: that day's run failed or was stopped, and the queue runs the next one all the
    same. A run without the tag (a launch from the UI) takes every pending day; with more than one,
    the run's log says so, and what it costs. `through` is the run's day (`through_day`)."""
    if through:
        if earlier := [day for day in pending_days(paths, con) if day < through]:
            raise Failure(f"Landing day(s) {', '.join(earlier)}, before this run's day {through}, are not loaded, "
                          "or not built after their loads: the run of that day failed or was stopped. Taking them "
                          "in this run would lose their "
                          "state from the snapshots, so nothing is loaded. Fix that failure, then `klantkluis run` "
                          f"(one run per pending day, oldest first), or launch with the tag {THROUGH_TAG}: "
                          f"{earlier[0]}.")
    loaded = {file for (file,) in con.execute("select distinct file from raw._batches where source = ?",
                                              [source]).fetchall()}
    days = sorted({day for p in files if (day := landing_day(p)) and p.name not in loaded})
    if len(days) > 1:
        context.log.warning(
            f"{source}: this run takes the files of {len(days)} landing days at once ({days[0]} to {days[-1]}), "
            f"having no tag {THROUGH_TAG}: the snapshots keep only the state after the last of them, the earlier "
            "days' history is lost. To keep it, process each day in its own run: `klantkluis run`, or launch "
            f"full_refresh with the tag {THROUGH_TAG}: <day> once per day, oldest first (the daily schedule does so).")
    return days


def _sweep(con, table, policy, now, audit) -> int:
    """Delete or anonymise the rows of `table` and the quarantine past retention (Art. 5(1)(e));
    returns how many. Reloaded old files may hold such rows (a reloaded file's quarantined rows
    keep their first load time): they go before the ingest step ends, because the retention
    sweep asset does not run in a run where another source failed."""
    done = retention.sweep(con, load_classification(DBT_PROJECT_DIR), policy, now=now, audit=audit,
                           tables={table.name, "_quarantine"}, ids=ID_COLUMNS)[1]
    return sum(done.values())


def absent_message(con, paths, source: str) -> str:
    """What `absent: true` means for `source` now: nothing loaded, rows of earlier loads kept until
    their retention rule, files left in its landing folder not read."""
    held = con.execute(f'select count(*) from raw."{source}"').fetchone()[0] if column_types(con, "raw", source) else 0
    unread = [p for p in (paths.landing / source).glob("*") if not p.name.startswith(".")]
    return (f"{source}: marked `absent: true` in sources.yml: nothing is loaded"
            + (f"; the {held:,} rows loaded earlier stay in raw.{source} until their retention rule removes them"
               if held else ", its table stays empty")
            + (f"; {len(unread)} file(s) in {paths.landing / source} are not read" if unread else ""))


def _names_not_text(files: list[Path]) -> tuple[list[Path], list[str]]:
    """(the files whose names are text, a message per other file: ``sources.name_problem``). Such a
    name stopped the source with a bare pybind11 cast error; now the source's other files still load
    (Art. 5(1)(d), 32(1)(b))."""
    kept, errors = [], []
    for path in files:
        if problem := name_problem(path):
            errors.append(problem)
        else:
            kept.append(path)
    return kept, errors


def _no_files(context, con, paths, source: str) -> None:
    """No landing file: fine for a source marked absent, or whose files were all removed after
    their retention period; otherwise more often a mistake than a choice, so the run stops."""
    if absent(paths, source):
        context.log.info(absent_message(con, paths, source))
        return
    earlier, expected = landing_retention.landing_files_loaded(con, source)
    if not earlier or expected:
        raise Failure(no_files_message(paths, source, loaded_before=bool(earlier)))
    context.log.info(f"{source}: no landing files; the {earlier} loaded earlier were removed after their retention "
                     f"period (policy rule {landing_retention.RULE}), so raw.{source} stays as it is")


@contextmanager
def _encrypted_first(context, klantkluis, table, ctx):
    """A warehouse connection on which the table's columns an older version stored as plain text
    are encrypted first, and those it encrypted without padding padded; once the step's work is done and
    the connection closed, the file is compacted if that left old values in it (see
    orchestration.ingest.encrypt_plain)."""
    with klantkluis.connect() as con:
        if plain := encrypt_plain(con, [table], klantkluis.paths, ctx.keystore, ctx.audit, ctx.now):
            context.log.info(f"{', '.join(plain)} (plain text in older versions) now encrypted under each "
                             "subject's key")
        if padded := pad_written_before(con, [table], klantkluis.paths, ctx.keystore, ctx.audit, ctx.now):
            context.log.info(f"{', '.join(padded)}: values an older version encrypted without padding now encrypted "
                             "again, padded")
        yield con
    with klantkluis.waiting_while_busy():
        seconds = compact_if_due_now(klantkluis.paths)
    if seconds is not None:
        context.log.info(f"The warehouse was compacted in {seconds} s: the values an older version stored (plain, "
                         "or encrypted without padding) have left the file")


def _remove_expired(context, con, source: str, passed: list, klantkluis, policy, audit, now) -> int:
    """Remove the landing files past their retention period among those read in this run that
    passed the gate (see landing_retention); returns how many."""
    read_as = klantkluis.read_as(source)
    expired = landing_retention.expired(con, source, passed, policy, now)
    removed, refused = landing_retention.remove(con, expired, source, lambda p: content_key(p, read_as), audit, now)
    if removed:
        context.log.info(f"{source}: {len(removed)} landing file(s) past their retention removed "
                         f"({', '.join(p.name for p in removed)}; policy rule {landing_retention.RULE})")
    for path in refused:
        context.log.warning(f"{source}: landing file {path.name} is past its retention period (policy rule "
                            f"{landing_retention.RULE}) but may not be removed: give this service account write "
                            f"access to {path.parent}, or remove the file yourself")
    return len(removed)


def _over_share(latest: list, max_share: float) -> list[str]:
    """The current files with more than ``max_share`` of their rows quarantined."""
    return sorted(f for f, rows, quarantined, _ in latest if not passes_gate(rows, quarantined, None, max_share))


def _check(key: AssetKey, latest: list, rules: Counter, max_share: float, over: list[str],
           over_rules: Counter) -> AssetCheckResult:
    """``rules``: the quarantine's rules of every current file; ``over``: the files over the share
    (``_over_share``), and ``over_rules`` their rules."""
    shares = {file: quarantined / rows if rows else 0.0 for file, rows, quarantined, _ in latest}
    table_failures = sorted({f"{file}: {rule}" for file, _, _, failed in latest if failed for rule in failed.split("\n")})
    problems = []
    if over:
        common = ", ".join(f"{rule} ({rows} rows)" for rule, rows in over_rules.most_common(3))
        problems.append(f"more than {max_share:.0%} of the rows of {', '.join(over)} quarantined"
                        + (f"; most often {common}" if common else "") + " (raw._quarantine holds the rule per row)")
    if table_failures:
        problems.append(f"table-level rules broken: {'; '.join(table_failures)}")
    fix = (f"`klantkluis check {key.path[-1]} FILE` says what each rule asks and which csv settings would read "
           "the values; fix the export and land it again, or correct the column mapping or csv settings in "
           "sources.yml; then run again.")
    return AssetCheckResult(
        asset_key=key, check_name="expectations", passed=not problems,
        description=f"{'; '.join(problems)}. {fix}" if problems else None,
        metadata={"quarantined_share": round(max(shares.values(), default=0.0), 6), "max_quarantine_share": max_share,
                  "files_over_max_share": MetadataValue.md("\n".join(f"- {f}: {shares[f]:.1%}" for f in over) or "none"),
                  "failed_rules": MetadataValue.md(_rules_table(rules).value),
                  "table_level_failures": MetadataValue.md("\n".join(f"- {f}" for f in table_failures) or "none")})


def gate_fix(source: str) -> str:
    """What to do when a source's blocking `expectations` check fails, for its page in the UI."""
    return (f"When it fails (a current file of {source} breaks a table-level rule, or more than max_quarantine_share "
            "of its rows are quarantined), nothing downstream is built or published, and running again does not "
            "pass it: the result names the file and its most frequent rules. `klantkluis check "
            f"{source} FILE` says what each rule asks and which csv settings would read the values; fix the export "
            "and land it again (a changed file loads anew), or correct the column mapping or csv settings in "
            "sources.yml; then run again, or re-execute the failed run from the failure.")


def build_ingest_asset(table) -> AssetsDefinition:
    """The ingest asset for one classified raw table (see the sources YAML of the dbt project)."""
    key = AssetKey(["raw", table.name])
    transforms = {c.transform for c in table.columns}
    steps = ["validates", "quarantines", "pseudonymises", *(["encrypts"] if "encrypt" in transforms else []),
             *(["redacts free text"] if "redact" in transforms else [])]

    @asset(
        key=key, group_name="ingest", owners=OWNERS, kinds={"python", "duckdb"},
        description=(f"{table.description.strip()}\n\nReads `<KLANTKLUIS_HOME>/landing/{table.name}/` "
                     f"(or the files configured in `sources.yml`), {', '.join(steps[:-1])} and {steps[-1]}, and "
                     f"writes `raw.{table.name}`. Unchanged files are skipped, unless the run has the tag "
                     f"`{RELOAD_TAG}: all`."),
        metadata={"subject_kind": table.subject.kind, "natural_key": table.subject.key},
        check_specs=[AssetCheckSpec("expectations", asset=key, blocking=True,
                                    description=f"The {table.name} expectation suite: rules broken and rows "
                                                "quarantined per rule (never values). " + gate_fix(table.name))],
    )
    def _ingest(context, klantkluis: KlantkluisResource) -> MaterializeResult:
        now = run_time(context)
        try:  # `klantkluis run` checks every table before it starts; this covers runs from the UI
            policy = load_policy()
            retention.check_anchors([table], policy)
        except PolicyError as exc:
            raise Failure(str(exc)) from None
        ctx = klantkluis.ingest_context(now)
        reload = context.run.tags.get(RELOAD_TAG) == "all"
        results = []
        with _encrypted_first(context, klantkluis, table, ctx) as con:
            _refuse_going_back_in_time(context, con, table, now, ctx.audit)
            through = through_day(context, con, klantkluis.paths)  # `oldest`: decided once per run
            files, errors = _names_not_text(klantkluis.landing_files(table.name, through))
            for line in errors:
                context.log.error(line)
            days = _new_days(context, con, klantkluis.paths, table.name, files, through)
            if not files and not errors:
                _no_files(context, con, klantkluis.paths, table.name)
            for i, path in enumerate(files, start=1):
                where = f"{table.name} file {i}/{len(files)} {path.name}"
                try:
                    result = load_file(con, table, path, ctx, full_refresh=reload,
                                       read_as=klantkluis.read_as(table.name),
                                       progress=lambda line: context.log.info(f"{where}: {line}"))
                except LandingFileError as exc:
                    errors.append(str(exc))
                    context.log.error(str(exc))
                    continue
                finally:
                    release_read_memory()
                results.append(result)
                if result.corrections_dropped:
                    context.log.warning(
                        f"{where}: the file changed since {result.corrections_dropped} of its rows were corrected by "
                        "a rectification (Art. 16); its new values stand. Check them against the requests "
                        "(`klantkluis audit --event rectification`) and correct the source system (Art. 16 applies there too)")
                context.log.info(
                    f"{where}: " + ("unchanged, skipped" if result.skipped else
                    f"{result.input_rows} rows in, {result.loaded} loaded, {result.quarantined} quarantined, "
                    f"{result.suppressed} suppressed"))
            rows_swept = _sweep(con, table, policy, now, ctx.audit) if any(not r.skipped for r in results) else 0
            if rows_swept:
                context.log.info(f"{table.name}: {rows_swept} rows past retention deleted or anonymised")
            latest = _gate(con, table.name, [p.name for p in files])
            passed = {f for f, *load in latest if passes_gate(*load, klantkluis.max_quarantine_share)}
            read = {r.file for r in results}
            removed = _remove_expired(context, con, table.name, [p for p in files if p.name in read & passed],
                                      klantkluis, policy, ctx.audit, now)
            columns = file_columns(con, table.name, [p.name for p in files])
            warned, noted = column_notes([f for f in columns if f.file in {r.file for r in results if not r.skipped}],
                                         klantkluis.paths.mapping.name)
            for line in warned:
                context.log.warning(line)
            for line in noted:
                context.log.info(line)
            raw_rows = con.execute(f'select count(*) from raw."{table.name}"').fetchone()[0]
            held = _held_rules(con, table.name)
            current = _held_rules(con, table.name, [f for f, *_ in latest])
            over = _over_share(latest, klantkluis.max_quarantine_share)
            stopping = _held_rules(con, table.name, over)
        if any(r.replaced for r in results):  # a changed file's old rows: their bytes await a compaction
            record_deletion(klantkluis.paths, now)
        counts, rules = _summary(results)
        metadata = {**counts, "landing_days_new": len(days),  # more than one: see _new_days
                    **({"landing_days_warning": f"{len(days)} landing days in one run: the snapshots keep only "
                                                f"the last one's state (launch with the tag {THROUGH_TAG})"}
                       if len(days) > 1 else {}),
                    "files_this_run": _files_table(results),
                    "past_retention_swept": rows_swept, "landing_files_removed": removed,
                    "raw_rows_total": raw_rows,
                    "quarantine_rows_total": sum(held.values()),
                    "quarantine_rules": _rules_table(held),  # as held, as the total: files of earlier runs too
                    "quarantine_rules_this_run": _rules_table(rules),
                    "landing_columns": _columns_table(columns),  # of the current files, as the gate
                    "files_with_columns_lost": sum(bool(f.lost) for f in columns)}
        if errors:
            raise Failure(description="\n".join(errors), metadata=metadata)
        return MaterializeResult(metadata={**metadata, "dagster/row_count": raw_rows}, check_results=[
            _check(key, latest, current, klantkluis.max_quarantine_share, over, stopping)])

    return _ingest
