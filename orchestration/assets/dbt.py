"""dbt models, snapshots and tests as Dagster assets and asset checks (dagster-dbt).

Sources of subjects' rows map to their ingest assets, `raw/<table>` (`Translator.get_asset_key`;
the `meta.dagster.asset_key` of the YAML says the same), so the graph shows lineage from each
landing source through staging and snapshots to the marts.
"""

import itertools
import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import duckdb
from dagster import AssetCheckSpec, AssetExecutionContext, AssetKey, AssetSpec, Failure, Output, TableColumn, TableSchema
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration.assets.retention import SWEEP_KEY
from orchestration.console import COLOUR
from orchestration.dbt_process import forget_dbt_process, note_dbt_process
from orchestration.headlines import PREFIX, HeadlineError, figures
from orchestration.ingest.sources import last_load, record_build
from orchestration.project import dbt_project, manifest_nodes
from orchestration.resources import AS_OF_TAG, DBT_VARS_TAG, KlantkluisResource, run_time
from orchestration.settings import AS_OF_VAR, Paths, WarehouseBusy, connect_duckdb
from privacy.rights.warehouse import column_types

OWNERS = ["team:data-engineering"]


class Translator(DagsterDbtTranslator):
    """Groups by layer: staging and snapshots are `transform`, marts are `marts`."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "snapshot":
            return "transform"
        fqn = dbt_resource_props.get("fqn", [])
        return "marts" if "marts" in fqn else "transform"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """dbt's description, the file it comes from, and its code under the code's own language
        (dagster-dbt shows a seed's empty code and a Python model's code as "Raw SQL")."""
        props = dbt_resource_props
        about = (props.get("description") or f"dbt {props['resource_type']} {props['name']}").strip()
        where = f"File: `dbt_project/{props['original_file_path']}`" if props.get("original_file_path") else ""
        code = (props.get("raw_code") or "").strip("\n")
        language = "python" if props.get("language") == "python" else "sql"
        shown = f"#### {'Python' if language == 'python' else 'SQL'}:\n```{language}\n{code}\n```" if code else ""
        return "\n\n".join(filter(None, [about, where, shown]))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        """A raw table of subjects' rows (``meta.subject``) is its ingest asset, ``raw/<table>``, also
        without ``meta.dagster.asset_key``: else dagster-dbt made an external ``<source>/<table>`` the
        staging model's parent, and the lineage from the landing file (Art. 30, 5(2)) was cut."""
        props = dbt_resource_props
        if props["resource_type"] == "source" and (props.get("meta") or {}).get("subject"):
            return AssetKey(["raw", props["name"]])
        return super().get_asset_key(props)

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> AssetSpec:
        """Staging models also wait for the retention sweep, so they never read rows past retention."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "model" and "staging" in props.get("fqn", []):
            return spec.merge_attributes(deps=[SWEEP_KEY])
        return spec

    def get_asset_check_spec(self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project: Any) -> AssetCheckSpec | None:
        """Every dbt test's asset check says what it proves (dagster-dbt reads only meta.description)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return spec
        test = self.get_resource_props(manifest, unique_id)
        about = spec.description or check_description(test)
        return spec._replace(description=" ".join(filter(None, [about, when_it_fails(test)])))


def _ref_name(ref: str) -> str:
    found = re.search(r"ref\(\s*['\"]([^'\"]+)['\"]", ref)
    return found[1] if found else ref


def when_it_fails(test: Mapping[str, Any]) -> str | None:
    """What to do when a blocking dbt test fails, for its asset check in the UI (dagster-dbt shows only
    how many rows failed): where the query that selects those rows is. None for a test of severity
    warn, whose own description names its fix (and goes into the run summary's warnings)."""
    if str((test.get("config") or {}).get("severity", "error")).lower() == "warn":
        return None
    where = test.get("original_file_path") or ""
    compiled = where if where.endswith(".sql") else f"{where}/{test.get('path')}"
    return ("When it fails, the build stops before anything is published (the BI copies keep the last good build): "
            f"`<KLANTKLUIS_HOME>/dbt/compiled/{test.get('package_name', 'klantkluis')}/{compiled}`, written by "
            "that build, is the query that selects the failing rows. Run it on the warehouse while nothing else "
            "runs (read-only), fix the source data or the model it names, and run again.")


def check_description(test: Mapping[str, Any]) -> str | None:
    """What a dbt test proves, for its asset check in the UI: its own description, a singular
    test's leading comment, or a sentence for a generic test from its arguments."""
    if test.get("description"):
        return test["description"]
    meta = test.get("test_metadata") or {}
    if not meta:  # singular: the comment block it starts with
        comment = itertools.takewhile(lambda line: line.startswith("--"), test.get("raw_code", "").splitlines())
        return " ".join(line.lstrip("- ").strip() for line in comment) or None
    args, column = meta.get("kwargs") or {}, test.get("column_name") or "the value"
    low, high = args.get("min_value"), args.get("max_value")
    sentences = {
        "not_null": f"Every row has a value in {column}.",
        "unique": f"No two rows have the same {column}.",
        "accepted_values": f"Every {column} that is set is one of: {', '.join(map(str, args.get('values') or []))}.",
        "relationships": f"Every {column} that is set is a {args.get('field')} of {_ref_name(args.get('to', ''))}.",
        "values_between": f"Every {column} that is set lies within [{low}, {high}]." if None not in (low, high)
                          else f"Every {column} that is set is at least {low}." if high is None
                          else f"Every {column} that is set is at most {high}.",
    }
    return sentences.get(meta.get("name"))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=Translator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, klantkluis: KlantkluisResource):
    """Build staging, snapshots and marts, and run their tests (shown as asset checks).

    The build's artifacts (dbt.log, run_results.json, compiled SQL) go to <home>/dbt, replaced by
    the next build: dagster-dbt's default, a new folder in the project per build, grows 5 MB a run."""
    extra = json.loads(context.run.tags.get(DBT_VARS_TAG, "{}"))
    as_of = dbt_as_of(extra.pop("as_of", None), run_time(context))
    args = ["build", *(["--vars", json.dumps(extra)] if extra else [])]
    # dbt's own process would just fail on a warehouse held elsewhere: wait for it here first. A
    # process that takes the warehouse in the moment between this check and dbt's start fails the build.
    with klantkluis.connect() as con:
        loaded = last_load(klantkluis.paths, con)
    if problem := build_time_problem(as_of, loaded):
        raise Failure(problem)
    # The time goes in the environment dbt's process starts with (macro as_of): unlike --vars, a new
    # value keeps dbt's partial parsing (2-3 s a build).
    with _environment(AS_OF_VAR, as_of):
        invocation = dbt.cli(args, context=context, target_path=klantkluis.paths.dbt_build)
    # dbt's process holds the warehouse until it ends (DuckDB has one writer): the events wait for
    # the end of the build to get their row counts. dbt's log lines still stream as it runs.
    events, failure = build_events(invocation, klantkluis.paths)
    yield from with_row_counts(context, events, klantkluis, as_of)
    if failure is not None:
        raise without_colours(failure)
    if loaded is not None and any(k.path[0] == "snapshots" for k in context.selected_asset_keys):
        record_build(klantkluis.paths, loaded)  # else the day is pending again (ingest.sources.pending_days)


def build_events(invocation, paths: Paths) -> tuple[list, Exception | None]:
    """The dbt invocation's events and the exception that ended them, if one did: a failed model or
    test (what did build still shows, then the failure), or an error in reading the events (a
    manifest that does not know a node). dbt's process is stopped then: it would go on holding the
    warehouse, and the next run would be refused naming its PID. While the events are read, dbt's
    process is recorded in the installation's state, so the next run ends it if this process is
    killed meanwhile (``dbt_process.end_orphaned_dbt``)."""
    events = []
    note_dbt_process(paths.state, invocation.process.pid)
    try:
        events.extend(invocation.stream())
    except Exception as exc:
        if invocation.process.poll() is None:
            invocation.process.terminate()
            try:
                invocation.process.wait(timeout=60)
            except subprocess.TimeoutExpired:  # deaf to SIGTERM: the build's failure still shows
                invocation.process.kill()
        return events, exc
    finally:
        forget_dbt_process(paths.state, invocation.process.pid)
    return events, None


def without_colours(failure: Exception) -> Exception:
    """The failure with dbt's colour codes taken out of its text: dagster-dbt's error quotes dbt's
    failing lines as dbt wrote them, and the UI's error dialog showed "[31mFAIL 1[0m"."""
    failure.args = tuple(COLOUR.sub("", a) if isinstance(a, str) else a for a in failure.args)
    if isinstance(getattr(failure, "description", None), str):
        failure.description = COLOUR.sub("", failure.description)
    return failure


def with_row_counts(context, events: list, klantkluis: KlantkluisResource, as_of: str | None = None) -> Iterator:
    """The build's events, each model's and snapshot's materialization with its columns' types
    (``dagster/column_schema``, with dbt's descriptions) and each table's with ``dagster/row_count``
    (the UI's row count and its history); views are not counted: counting one runs its query.
    A mart's also carries ``as_of``, the time its recency and windows count from (UTC), and an
    aggregate mart's its headline figures (``headline/<column>``, ``orchestration.headlines``), which
    the UI plots.
    These are extras: when the warehouse cannot be read, the events go without them."""
    nodes = manifest_nodes()
    built = {uid: nodes[uid] for uid in map(_unique_id, events) if uid in nodes}
    extra: dict[str, dict] = {}
    if built:
        try:
            with connect_duckdb(klantkluis.paths.warehouse, read_only=True) as con:
                for uid, n in built.items():
                    extra[uid] = {"dagster/column_schema": TableSchema(columns=[
                        TableColumn(name, kind.lower(), (n["columns"].get(name) or {}).get("description") or None)
                        for name, kind in column_types(con, n["schema"], n["alias"]).items()])}
                    if as_of and "marts" in n["fqn"]:
                        extra[uid]["as_of"] = as_of
                    try:
                        extra[uid].update({PREFIX + k: v for k, v in figures(con, n).items() if v is not None})
                    except HeadlineError as exc:
                        context.log.warning(str(exc))
                    if n["config"]["materialized"] != "view":
                        extra[uid]["dagster/row_count"] = con.execute(
                            f'select count(*) from "{n["schema"]}"."{n["alias"]}"').fetchone()[0]
        except (WarehouseBusy, duckdb.Error) as exc:  # another process took the warehouse after dbt
            context.log.warning("The row counts and column types of dbt's tables are left out this time "
                                f"({type(exc).__name__})")
            extra = {}
    for event in events:
        uid = _unique_id(event)
        yield event.with_metadata({**event.metadata, **extra[uid]}) if uid in extra else event


def _unique_id(event) -> str | None:
    """The dbt node a materialization is of; None for any other event."""
    return event.metadata["unique_id"].value if isinstance(event, Output) and "unique_id" in event.metadata else None


def dbt_as_of(tagged: str | None, run_moment: datetime) -> str:
    """The build's time as dbt's models read it: UTC without an offset, like every time in staging.
    An ``as_of`` in the dbt-vars tag wins over the run's time; one with an offset is converted."""
    try:
        moment = datetime.fromisoformat(tagged) if tagged else run_moment
    except ValueError:
        raise ValueError(f"as_of {tagged!r} in the run's dbt vars is not an ISO 8601 time; write "
                         "2026-11-01, 2026-11-01 06:00:00 (UTC) or 2026-11-01T06:00:00+01:00") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="seconds")


def build_time_problem(as_of: str, loaded: datetime | None) -> str | None:
    """Why dbt may not build at ``as_of`` (``dbt_as_of``'s form) after a load at ``loaded``, or None:
    the marts, published after the build, resolve consent as of that time, so a build set before the
    last load (an as_of in the dbt-vars tag, or a run from the UI at an earlier klantkluis/as_of that
    leaves out the ingest steps, which refuse it) would ignore the withdrawals and objections loaded
    since and put those subjects back in the marketing audience (Art. 7(3), 21(3)). Builds, like
    runs, move forward in time (``ingest.sources.going_back_in_time``). ``as_of`` has whole seconds:
    a load in its second (a run at 13:36:05.5 builds at 13:36:05) is not after it."""
    moment = datetime.fromisoformat(as_of).replace(tzinfo=timezone.utc)
    if loaded is None or moment >= loaded.replace(microsecond=0):
        return None
    return (f"dbt would build the marts at {as_of} (UTC), before the last load at {loaded.isoformat()}: they would "
            "take consent as it was then, ignoring the withdrawals and objections loaded since. Builds move forward "
            f"in time: leave as_of out of the tag {DBT_VARS_TAG}, or give {AS_OF_TAG} a time on or after the last load.")


@contextmanager
def _environment(name: str, value: str):
    """``name`` set to ``value`` in this process's environment for the block."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous
