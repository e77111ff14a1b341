"""The readable end-of-run summary: rows per layer, time per stage, where the files are."""

from collections import defaultdict

import duckdb

from expectations.suites import SOURCES as LANDING_SOURCES
from orchestration.ingest.schema import LATEST_BATCHES
from orchestration.ingest.sources import absent
from orchestration.settings import PROJECT_DIR, Paths
from privacy.rights.warehouse import column_types

LAYERS = {"raw": "raw (identifiers encrypted)", "snapshots": "snapshots", "staging": "staging",
          "intermediate": "intermediate", "marts": "marts"}


def layer_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Row count of every table and view per schema (no values are read)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    rows = con.execute("select table_schema, table_name from information_schema.tables "
                       "where table_schema in ('raw','staging','snapshots','intermediate','marts') "
                       "order by table_schema, table_name").fetchall()
    for schema, name in rows:
        out[schema][name] = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
    return out


def stage_of(step_key: str) -> str:
    if step_key.startswith("raw__"):
        return "ingest"
    if "dbt" in step_key:
        return "dbt (staging, snapshots, marts, tests)"
    return step_key.split("__")[0]


def _ui_command(paths: Paths) -> str:
    """`make ui` serves <project>/data (or $KLANTKLUIS_HOME); any other installation needs its --home."""
    default = (PROJECT_DIR / "data").resolve()
    return "make ui" if paths.home == default else f".venv/bin/klantkluis --home {paths.home} ui"


def render(paths: Paths, counts: dict[str, dict[str, int]], stage_seconds: dict[str, float],
           reconciliation: list[tuple[str, int, int, int, int]], failed: bool = False,
           requests: str | None = None, days: int = 1, quarantine: list[tuple[str, str, int]] = (),
           warnings: list[str] = (), landing: list[str] = (), headlines: dict[str, dict] | None = None,
           title: str = "klantkluis run summary") -> str:
    """The run summary. After a failed run the rows per layer are left out: they would show the
    last successful build as if this run had made it. ``requests``: the reminder of data subject
    requests not answered yet (``open_requests``); ``days``: the landing days processed, one run each;
    ``quarantine``: rows in quarantine per source and rule (``quarantine_counts``); ``warnings``: the
    checks of severity WARN that failed (``warnings_of``); ``landing``: files no run reads, or gone
    after their load, and columns of files not read or missing, a column the file before had first,
    marked as a warning (``landing_zone.landing_notes``); ``headlines``: the marts' headline figures
    (``headlines.all_figures``)."""
    lines = ["", title, "=" * len(title)]
    if not failed:
        lines += ["", "Rows per layer:"]
        for schema in LAYERS:
            for name, n in counts.get(schema, {}).items():
                lines.append(f"  {LAYERS[schema]:<{max(map(len, LAYERS.values()))}} {name:<34} {n:>12,}")
        if headlines:
            lines += ["", "Key figures (the marts' meta.headline; the Dagster UI plots them per run):"]
            lines += [f"  {mart:<22} " + "  ".join(f"{k} {_shown(v)}" for k, v in found.items())
                      for mart, found in headlines.items()]
    lines += ["", "Ingest reconciliation per source, over the latest load of each landing file and of each",
              "request's consent events (req-*.csv); input = loaded + quarantined + suppressed, and",
              "'in raw now' is lower once the retention sweep or an erasure removed loaded rows (higher",
              "by the orders an erasure kept anonymously, for the fiscal duty, once their file is loaded again):"]
    for source, n_in, loaded, quarantined, suppressed in reconciliation:
        ok = "adds up" if n_in == loaded + quarantined + suppressed else "MISMATCH"
        now = counts.get("raw", {}).get(source)
        lines.append(f"  {source:<16} in {n_in:>10,}  loaded {loaded:>10,}  quarantined {quarantined:>7,}"
                     f"  suppressed {suppressed:>5,}  {ok:<8}  in raw now {'-' if now is None else f'{now:,}':>10}")
    for source in sorted(set(LANDING_SOURCES) - {r[0] for r in reconciliation}):  # no file loaded at all
        why = "absent: true in sources.yml" if absent(paths, source) else "no file loaded yet" + (
            " (see why the run failed, below)" if failed else "")
        lines.append(f"  {source:<16} {why}")
    if quarantine:
        lines += ["", "Quarantined rows still held, per source and rule (kept 30 days, encrypted, with their file",
                  "and line, in raw._quarantine; `klantkluis check SOURCE` lists the lines of the files still in",
                  "the landing zone: fix the export and load it again):"]
        lines += [f"  {source:<16} {rows:>9,}  {rule}" for source, rule, rows in quarantine]
    if warnings:
        lines += ["", "Warnings (checks that do not stop a run; the Dagster UI shows them on their asset):"]
        lines += [f"  {w}" for w in warnings]
    if landing:
        lines += ["", "Landing zone (files whose rows or columns are not where you may expect them):"]
        lines += [f"  {n}" for n in landing]
    if requests:
        lines += ["", f"Requests: {requests}"]
    if stage_seconds:
        over = f", summed over the {days} landing days (one run each)" if days > 1 else ""
        lines += ["", f"Time per stage{over}:"]
        lines += [f"  {stage:<40} {sec:8.1f} s" for stage, sec in stage_seconds.items()]
    lines += ["", "Files:",
              f"  landing zone      {paths.landing}" + ("" if not paths.mapping.is_file() else
                                                    f"   (and the files globs of {paths.mapping.name})"),
              f"  warehouse         {paths.warehouse}",
              f"  published for BI  {paths.published}",
              f"  privacy register  {paths.register}",
              f"  audit log         {paths.audit_log}",
              f"  last dbt build    {paths.dbt_build}   (dbt.log, run_results.json)",
              f"  keys (0600)       {paths.key_dir}",
              "", f"Open the Dagster UI on this warehouse:  {_ui_command(paths)}   (http://127.0.0.1:3000)", ""]
    return "\n".join(lines)


def _shown(value) -> str:
    """A headline figure as the summary prints it."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.3g}"


def root_cause(error):
    """The innermost error of a step failure's error chain (Dagster's SerializableErrorInfo), which
    names what went wrong rather than the framework's wrappers around it."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error


# The metadata that counts a warning's rows: a dbt test's, the sweep's rows kept without their retention anchor.
_ROW_COUNTS = ("dagster_dbt/failed_row_count", "rows_without_anchor")


def warnings_of(asset_graph, events) -> dict[str, str]:
    """check -> one line, for each check of severity WARN that failed in ``events`` (a run's): its
    failing row count where dbt gives one and the check's own description, which names the fix."""
    from dagster import AssetCheckSeverity, DagsterEventType

    out = {}
    for event in events:
        if event.event_type != DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        check = event.event_specific_data
        if check.passed or check.severity != AssetCheckSeverity.WARN:
            continue
        rows = next(filter(None, (check.metadata.get(k) for k in _ROW_COUNTS)), None)
        name = f"{check.asset_key.to_user_string()}:{check.check_name}"
        count = f" ({rows.value:,} row{'s' if rows.value != 1 else ''})" if rows else ""
        why = " ".join((asset_graph.get_check_spec(check.asset_check_key).description or "").split())
        out[name] = f"{name}{count}" + (f": {why}" if why else "")
    return out


def quarantine_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(source, rule, rows) of the quarantine, most rows first: counts and rule names only (a row
    that broke several rules counts under their combination)."""
    if not column_types(con, "raw", "_quarantine"):
        return []
    return con.execute("select source, rule, count(*) as n from raw._quarantine group by all "
                       "order by source, n desc, rule").fetchall()


def reconciliation(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int, int, int]]:
    """Per source, over the latest load of each file."""
    if not column_types(con, "raw", "_batches"):
        return []
    return con.execute(f"""
        select source, sum(input_rows), sum(loaded), sum(quarantined), sum(suppressed)
        from {LATEST_BATCHES} group by source order by source""").fetchall()
