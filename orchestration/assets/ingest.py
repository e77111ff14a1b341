"""One ingest asset per landing source, all writing through the single raw-layer writer."""

from dagster import AssetsDefinition, Failure, MaterializeResult, MetadataValue, asset

from orchestration.ingest.reader import LandingFileError
from orchestration.ingest.writer import BatchResult, load_file
from orchestration.resources import THROUGH_TAG, KlantkluisResource, run_time

OWNERS = ["team:data-engineering"]


def _metadata(results: list[BatchResult], raw_rows: int, quarantine_rows: int) -> dict:
    loaded = [r for r in results if not r.skipped]
    rules: dict[str, int] = {}
    for r in loaded:
        for rule, n in r.rule_counts.items():
            rules[rule] = rules.get(rule, 0) + n
    table = "| rule | rows |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in sorted(rules.items()))
    return {
        "files_loaded": len(loaded), "files_unchanged": len(results) - len(loaded),
        "input_rows": sum(r.input_rows for r in loaded), "loaded": sum(r.loaded for r in loaded),
        "quarantined": sum(r.quarantined for r in loaded), "suppressed": sum(r.suppressed for r in loaded),
        "reconciles": all(r.reconciles() for r in loaded),
        "raw_rows_total": raw_rows, "quarantine_rows_total": quarantine_rows,
        "quarantine_rules": MetadataValue.md(table if rules else "No rows quarantined."),
        "dagster/row_count": raw_rows,
    }


def build_ingest_asset(table) -> AssetsDefinition:
    """The ingest asset for one classified raw table (see the sources YAML of the dbt project)."""
    @asset(
        name=table.name, key_prefix=["raw"], group_name="ingest", owners=OWNERS, kinds={"python", "duckdb"},
        description=(f"{table.description.strip()}\n\nReads `<KLANTKLUIS_HOME>/landing/{table.name}/` "
                     "(or the files configured in `sources.yml`), validates, quarantines, pseudonymises "
                     f"and encrypts, and writes `raw.{table.name}`. Unchanged files are skipped."),
        metadata={"subject_kind": table.subject.kind, "natural_key": table.subject.key},
    )
    def _ingest(context, klantkluis: KlantkluisResource) -> MaterializeResult:
        now = run_time(context)
        files = klantkluis.landing_files(table.name, context.run.tags.get(THROUGH_TAG))
        if not files:
            raise Failure(f"No landing files for {table.name} in {klantkluis.paths.landing / table.name}. "
                          "Run `klantkluis demo` for demo data, or place your export there (see README).")
        ctx = klantkluis.ingest_context(now)
        results, errors = [], []
        with klantkluis.connect() as con:
            for i, path in enumerate(files, start=1):
                try:
                    result = load_file(con, table, path, ctx, mapping=klantkluis.column_mapping(table.name))
                except LandingFileError as exc:
                    errors.append(str(exc))
                    context.log.error(str(exc))
                    continue
                results.append(result)
                context.log.info(
                    f"{table.name} file {i}/{len(files)} {path.name}: " + ("unchanged, skipped" if result.skipped else
                    f"{result.input_rows} rows in, {result.loaded} loaded, {result.quarantined} quarantined, "
                    f"{result.suppressed} suppressed"))
            raw_rows = con.execute(f'select count(*) from raw."{table.name}"').fetchone()[0]
            quarantined = con.execute("select count(*) from raw._quarantine where source = ?", [table.name]).fetchone()[0]
        metadata = _metadata(results, raw_rows, quarantined)
        if errors:
            raise Failure(description="\n".join(errors), metadata={k: v for k, v in metadata.items() if k != "dagster/row_count"})
        return MaterializeResult(metadata=metadata)

    return _ingest
