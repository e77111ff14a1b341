"""The publish asset: read-only copies of the marts for BI tools (see orchestration/publish.py)."""

from datetime import timedelta

from dagster import (AssetExecutionContext, AssetKey, AssetsDefinition, FreshnessPolicy, MaterializeResult,
                     MetadataValue, asset)

from orchestration.publish import publish
from orchestration.resources import KlantkluisResource, run_time


def build_publish_asset(dbt_assets: AssetsDefinition, gate: AssetKey) -> AssetsDefinition:
    """The publish asset, downstream of every mart and of the classification gate `gate`."""
    marts = [spec.key for spec in dbt_assets.specs if spec.group_name == "marts"]

    @asset(
        key=AssetKey(["published", "marts"]), group_name="publish", owners=["team:data-engineering"],
        kinds={"duckdb", "parquet"}, deps=[*marts, gate],
        # a missed or failed 02:00 run shows in the UI before the BI users notice (STALE: more than a day)
        freshness_policy=FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25)),
        description="Read-only copy of every mart for BI tools: `published/marts.duckdb` and "
                    "`published/parquet/current/<mart>.parquet`, swapped in atomically after each build.",
    )
    def published_marts(context: AssetExecutionContext, klantkluis: KlantkluisResource) -> MaterializeResult:
        return _publish(context, klantkluis)

    return published_marts


def _publish(context: AssetExecutionContext, klantkluis: KlantkluisResource) -> MaterializeResult:
    with klantkluis.waiting_while_busy():
        result = publish(klantkluis.paths.warehouse, klantkluis.paths.published, run_time(context))
    context.log.info(f"Published {len(result.tables)} marts to {result.duckdb_file}")
    table = "| mart | rows |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in result.tables.items())
    return MaterializeResult(metadata={
        "duckdb_file": MetadataValue.path(str(result.duckdb_file)),
        "parquet_dir": MetadataValue.path(str(result.parquet_dir)),
        "marts": MetadataValue.md(table),
    })
