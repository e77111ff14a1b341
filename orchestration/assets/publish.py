"""The publish asset: read-only copies of the marts for BI tools (see orchestration/publish.py)."""

from datetime import timedelta

from dagster import (AssetCheckKey, AssetExecutionContext, AssetKey, AssetsDefinition, Failure, FreshnessPolicy,
                     MaterializeResult, MetadataValue, asset)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as CheckStatus

from orchestration.assets.privacy import CLASSIFICATION_CHECK
from orchestration.publish import publish
from orchestration.resources import KlantkluisResource, run_time


def build_publish_asset(dbt_assets: AssetsDefinition, gate: AssetKey) -> AssetsDefinition:
    """The publish asset, downstream of every mart and of the classification gate `gate`."""
    marts = [spec.key for spec in dbt_assets.specs if spec.group_name == "marts"]
    classification = AssetCheckKey(gate, CLASSIFICATION_CHECK)
    gates = [classification, *(spec.key for spec in dbt_assets.check_specs if spec.blocking and spec.asset_key in marts)]

    @asset(
        key=AssetKey(["published", "marts"]), group_name="publish", owners=["team:data-engineering"],
        kinds={"duckdb", "parquet"}, deps=[*marts, gate],
        # a missed or failed 02:00 run shows in the UI before the BI users notice (STALE: more than a day)
        freshness_policy=FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25)),
        description="Read-only copy of every mart for BI tools: `published/marts.duckdb` and "
                    "`published/parquet/current/<mart>.parquet`, swapped in atomically after each build.",
    )
    def published_marts(context: AssetExecutionContext, klantkluis: KlantkluisResource) -> MaterializeResult:
        if problem := unchecked_marts(context.instance, marts, classification, gates):
            raise Failure(problem)
        return _publish(context, klantkluis)

    return published_marts


def unchecked_marts(instance, marts: list[AssetKey], classification: AssetCheckKey,
                    gates: list[AssetCheckKey]) -> str | None:
    """Why the marts in the warehouse may not be published, or None. In a run that builds them, a
    failed blocking check (a mart's dbt test, `classification_complete`) stops publication; a run
    that selects `published/marts` alone (Materialize in the UI, as its staleness invites) ran no
    check, and copied what that failed build left in the warehouse: an audience without consent
    (Art. 6(1)(a)), a column not classified for the mart's purpose (Art. 5(1)(b)). So: the latest
    result of each gate must be a pass, and the classification must have judged every mart's
    latest build."""
    def latest(key: AssetCheckKey):
        done = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=1, status={CheckStatus.SUCCEEDED, CheckStatus.FAILED})
        return done[0] if done else None

    failed = [key.to_user_string() for key in gates if (record := latest(key)) and record.status == CheckStatus.FAILED]
    if failed:
        return (f"Not published: the marts in the warehouse failed {', '.join(failed)} in their last build, and the "
                "BI copies keep the last good build. Fix what the check names (its page in the UI says how), then "
                "run full_refresh: it builds, checks and publishes in one run.")
    judged = latest(classification)
    checked_at = judged.event.timestamp if judged and judged.event else None
    newer = [key.to_user_string() for key in marts if (event := instance.get_latest_materialization_event(key))
             and (checked_at is None or event.timestamp > checked_at)]
    if newer:
        return (f"Not published: {', '.join(newer[:5])}{' and more' if len(newer) > 5 else ''} "
                f"{'was' if len(newer) == 1 else 'were'} built after the "
                f"last {classification.to_user_string()} check, so no check judged them, and the BI copies keep the "
                "last good build. Run full_refresh (or materialize privacy/register with published/marts): it "
                "checks the marts before it publishes them.")
    return None


def _publish(context: AssetExecutionContext, klantkluis: KlantkluisResource) -> MaterializeResult:
    with klantkluis.waiting_while_busy():
        result = publish(klantkluis.paths.warehouse, klantkluis.paths.published, run_time(context))
    context.log.info(f"Published {len(result.tables)} marts to {result.duckdb_file}")
    table = "| mart | rows |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in result.tables.items())
    return MaterializeResult(metadata={
        "duckdb_file": MetadataValue.path(str(result.duckdb_file)),
        "parquet_dir": MetadataValue.path(str(result.parquet_dir)),
        "marts": MetadataValue.md(table),
        # what the BI copies measure from: behind the latest build's while publication is refused
        "as_of": result.as_of.isoformat() if result.as_of else "n/a",
    })
