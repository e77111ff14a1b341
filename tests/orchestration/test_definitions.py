import pytest
from dagster import AssetKey

SOURCES = ["crm_customers", "orders", "leads", "consent_events", "nps_responses", "interactions"]


def test_definitions_load_with_expected_assets_and_checks():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for source in SOURCES:
        assert f"raw/{source}" in keys
    assert {"staging/stg_crm__customers", "staging/stg_shop__orders", "snapshots/snap_crm__customers",
            "marts/customer_pyramid", "marts/customer_clv", "privacy/register", "published/marts"} <= keys
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("staging/stg_shop__orders", "unique_stg_shop__orders_order_id") in checks
    assert ("privacy/register", "classification_complete") in checks
    assert defs.resolve_job_def("full_refresh") is not None
    schedules = {s.cron_schedule: s.default_status.value for s in defs.schedules}
    # Both on from the start (they run while the Dagster daemon runs): the retention sweep is Art. 5(1)(e).
    assert schedules == {"0 2 * * *": "RUNNING", "0 3 * * *": "RUNNING"}
    # a missed daily run shows: the BI copy is stale after a day and two hours
    assert graph.get(AssetKey(["published", "marts"])).freshness_policy.fail_window.to_timedelta().total_seconds() == 26 * 3600


def test_one_calendar_for_the_schedules_the_request_deadlines_and_dbts_periods():
    import yaml

    from orchestration.definitions import defs
    from orchestration.settings import DBT_PROJECT_DIR
    from privacy.rights.requests import LOCAL_TIME

    dbt_vars = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert {s.execution_timezone for s in defs.schedules} == {dbt_vars["time_zone"]} == {LOCAL_TIME.key}


def test_lineage_runs_from_ingest_through_staging_to_snapshot():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    assert AssetKey(["raw", "crm_customers"]) in graph.get(AssetKey(["staging", "stg_crm__customers"])).parent_keys
    assert AssetKey(["staging", "stg_crm__customers"]) in graph.get(AssetKey(["snapshots", "snap_crm__customers"])).parent_keys
    assert AssetKey(["raw", "orders"]) in graph.get(AssetKey(["staging", "stg_shop__orders"])).parent_keys
    assert AssetKey(["marts", "customer_pyramid"]) in graph.get(AssetKey(["published", "marts"])).parent_keys


def test_assets_have_groups_descriptions_and_owners():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in {"ingest", "transform", "marts", "privacy", "publish"}, key
        assert node.description, key
        assert node.owners, key


def test_an_ingest_asset_says_which_protections_its_table_gets():
    """Docs review: every ingest asset said it encrypts (orders encrypt nothing) and none that it redacts."""
    from dagster import AssetKey

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    said = {t: graph.get(AssetKey(["raw", t])).description for t in ("orders", "crm_customers", "interactions")}
    assert "quarantines and pseudonymises, and writes `raw.orders`" in said["orders"]
    assert "pseudonymises and encrypts, and writes" in said["crm_customers"]
    assert "pseudonymises, encrypts and redacts free text, and writes" in said["interactions"]


def test_dbt_assets_show_their_file_and_their_code_under_its_own_language():
    """BI review: a seed showed an empty "Raw SQL" block and a Python model its code as "Raw SQL"."""
    from dagster import AssetKey

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    seed = graph.get(AssetKey(["config", "pyramid_tiers"])).description
    assert "File: `dbt_project/seeds/pyramid_tiers.csv`" in seed and "```" not in seed
    python = graph.get(AssetKey(["intermediate", "int_clv_predictions"])).description
    assert "#### Python:\n```python\n" in python and "Raw SQL" not in python
    sql = graph.get(AssetKey(["marts", "customer_rfm"])).description
    assert sql.startswith("RFM scores") and "#### SQL:\n```sql\n" in sql


def test_arrow_gives_freed_memory_back_at_once():
    import pyarrow as pa

    import orchestration.settings  # noqa: F401 (sets the pool on import)

    # jemalloc with decay 0: what a file's rows free is returned to the system, not kept by Arrow.
    assert pa.default_memory_pool().backend_name == "jemalloc"


def test_the_retention_schedule_skips_when_a_sweep_within_2_hours_and_a_publish_after_it_ran():
    from datetime import datetime, timedelta, timezone

    from dagster import AssetMaterialization, RunRequest, SkipReason, build_schedule_context, instance_for_test

    from orchestration.assets.retention import PUBLISHED_KEY, SWEEP_KEY
    from orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("retention_sweep_daily")
    with instance_for_test() as instance:
        def tick(at: datetime):
            return schedule(build_schedule_context(instance=instance, scheduled_execution_time=at))

        now = datetime.now(timezone.utc)
        assert isinstance(tick(now), RunRequest)  # never swept
        instance.report_runless_asset_event(AssetMaterialization(SWEEP_KEY, metadata={"as_of": now.isoformat()}))
        assert isinstance(tick(now), RunRequest)  # swept, but the marts were not published after it
        instance.report_runless_asset_event(AssetMaterialization(PUBLISHED_KEY))
        assert isinstance(tick(now), SkipReason)
        assert isinstance(tick(now + timedelta(hours=3)), RunRequest)  # too long ago: sweep again
        earlier = (now - timedelta(hours=12)).isoformat()  # a run with --as-of in the past sweeps as then
        instance.report_runless_asset_event(AssetMaterialization(SWEEP_KEY, metadata={"as_of": earlier}))
        instance.report_runless_asset_event(AssetMaterialization(PUBLISHED_KEY))
        assert isinstance(tick(now), RunRequest)


def test_every_dbt_check_says_what_it_proves():
    from orchestration.assets.dbt import dbt_models

    specs = {(s.asset_key.to_user_string(), s.name): s.description for s in dbt_models.check_specs}
    assert all(specs.values()), [k for k, d in specs.items() if not d]
    assert specs[("staging/stg_shop__orders", "unique_stg_shop__orders_order_id")].startswith(
        "No two rows have the same order_id. When it fails")  # what to do: see the test after this one
    assert specs[("marts/customer_clv", "values_between_customer_clv_p_alive__1__0")].startswith(
        "Every p_alive that is set lies within [0, 1]. When it fails")
    assert specs[("marts/customer_pyramid", "relationships_customer_pyramid_tier__tier__ref_pyramid_tiers_")].startswith(
        "Every tier that is set is a tier of pyramid_tiers. When it fails")
    assert specs[("marts/marketing_audience", "marketing_audience_has_consent")].startswith("Everyone in the marketing")
    # every singular test is an asset check too (else Dagster logs it as an observation, with a warning each run)
    from orchestration.settings import DBT_PROJECT_DIR

    singular = {p.stem for p in (DBT_PROJECT_DIR / "tests").glob("*.sql")}
    assert singular and singular <= {name for _, name in specs}


def test_a_time_with_an_offset_reaches_dbt_and_the_run_as_utc():
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from orchestration.assets.dbt import dbt_as_of
    from orchestration.resources import AS_OF_TAG, run_time

    context = SimpleNamespace(run=SimpleNamespace(tags={AS_OF_TAG: "2026-11-30T06:00:00+01:00"}))
    assert run_time(context) == datetime(2026, 11, 30, 5, tzinfo=timezone.utc)
    assert run_time(context).utcoffset().total_seconds() == 0
    assert dbt_as_of(None, run_time(context)) == "2026-11-30 05:00:00"
    assert dbt_as_of("2026-11-30T06:00:00+01:00", datetime(2020, 1, 1, tzinfo=timezone.utc)) == "2026-11-30 05:00:00"
    assert dbt_as_of("2026-11-30", datetime(2020, 1, 1, tzinfo=timezone.utc)) == "2026-11-30 00:00:00"
    with pytest.raises(ValueError, match="ISO 8601"):
        dbt_as_of("yesterday", datetime(2020, 1, 1, tzinfo=timezone.utc))


def test_dbt_does_not_build_the_marts_at_a_time_before_the_last_load():
    """Security review: the tag klantkluis/dbt_vars {"as_of": "2024-06-01"} from the UI (or a UI run at
    an earlier klantkluis/as_of with the ingest steps left out) built and published the marts with
    consent as it was then: subjects who withdrew or objected since were back in the marketing audience
    (37 of 175 rows in a demo of 1,000 customers) until the next build."""
    from datetime import datetime, timezone

    from orchestration.assets.dbt import build_time_problem, dbt_as_of

    loaded = datetime(2026, 12, 7, 12, 59, 33, tzinfo=timezone.utc)
    problem = build_time_problem(dbt_as_of("2024-06-01", loaded), loaded)
    assert problem.startswith("dbt would build the marts at 2024-06-01 00:00:00 (UTC), before the last load at 2026-12-07")
    assert "ignoring the withdrawals and objections loaded since. Builds move forward in time: leave as_of out" in problem
    assert build_time_problem(dbt_as_of("2026-12-07T13:59:33+01:00", loaded), loaded) is None  # the same moment
    assert build_time_problem(dbt_as_of("2027-01-01", loaded), loaded) is None
    assert build_time_problem("2024-06-01 00:00:00", None) is None  # nothing loaded yet


def test_dbt_builds_after_a_load_at_its_own_run_time_with_a_fraction_of_a_second():
    """Review: `klantkluis run --as-of 2026-12-07T13:36:05.5` (or a UI tag with microseconds, as
    Python's isoformat writes them) loaded its files at 13:36:05.5, and dbt's time, which has whole
    seconds, was 13:36:05: the build was refused as "before the last load", on every retry."""
    from datetime import datetime, timezone

    from orchestration.assets.dbt import build_time_problem, dbt_as_of

    run = datetime(2026, 12, 7, 13, 36, 5, 500000, tzinfo=timezone.utc)
    assert build_time_problem(dbt_as_of(None, run), run) is None
    assert build_time_problem(dbt_as_of("2026-12-07 13:36:04", run), run) is not None  # a second earlier


def test_dbt_events_go_on_without_row_counts_when_the_warehouse_cannot_be_read(tmp_path):
    """The counts are an extra: a failure to read them never loses dbt's materializations."""
    from types import SimpleNamespace

    from dagster import Output

    from orchestration.assets.dbt import with_row_counts
    from orchestration.resources import KlantkluisResource

    warned = []
    context = SimpleNamespace(log=SimpleNamespace(warning=warned.append))
    events = [Output(None, output_name="m", metadata={"unique_id": "model.klantkluis.customer_rfm"}), "check"]
    resource = KlantkluisResource(home=str(tmp_path / "no-warehouse-here"))
    assert list(with_row_counts(context, events, resource)) == events and "left out" in warned[0]


def test_an_error_reading_dbts_events_stops_dbts_process(tmp_path):
    """Review (BI): a KeyError in dagster-dbt's reading of the events (a stale manifest) failed the
    step while dbt's process went on holding the warehouse: the run then blamed "another process"."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from orchestration.assets.dbt import build_events
    from orchestration.settings import Paths

    paths = Paths.from_home(tmp_path)

    def stream():
        yield "first event"
        raise KeyError("model.klantkluis.my_new_mart")

    dbt = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # stands in for dbt's process
    try:
        events, failure = build_events(SimpleNamespace(stream=stream, process=dbt), paths)
        assert events == ["first event"] and isinstance(failure, KeyError) and dbt.poll() is not None
    finally:
        dbt.kill()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert build_events(SimpleNamespace(stream=lambda: iter(["done"]), process=ended), paths) == (["done"], None)


def test_a_run_from_the_ui_more_than_a_day_ahead_stops_unless_marked_a_simulation():
    """Diff review: the --simulate guard covered `klantkluis run` only; a run launched from the UI
    with a mistyped year in its as_of tag still swept a live installation."""
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    from types import SimpleNamespace

    from dagster import Failure

    from orchestration.resources import AS_OF_TAG, SIMULATE_TAG, run_time

    ahead = (datetime.now(timezone.utc) + timedelta(days=400)).replace(microsecond=0)
    with pytest.raises(Failure, match=f"day\\(s\\) ahead of now: .* the tag {SIMULATE_TAG}: true"):
        run_time(SimpleNamespace(run=SimpleNamespace(tags={AS_OF_TAG: ahead.isoformat()})))
    demo = SimpleNamespace(klantkluis=SimpleNamespace(paths=SimpleNamespace(truth=Path(__file__).parent)))  # a folder
    simulated = SimpleNamespace(run=SimpleNamespace(tags={AS_OF_TAG: ahead.isoformat(), SIMULATE_TAG: "true"}),
                                resources=demo)
    assert run_time(simulated) == ahead


def test_a_run_from_the_ui_marked_a_simulation_stops_on_an_installation_that_is_not_a_demo(tmp_path):
    """Security review: the tag klantkluis/simulate: true, set from the UI on a live installation,
    let a run years ahead sweep its rows, landing files and keys for real; only a demo installation
    (with the truth/ folder `klantkluis demo` writes) may run ahead of now."""
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from dagster import Failure

    from orchestration.resources import AS_OF_TAG, SIMULATE_TAG, run_time
    from orchestration.settings import Paths

    ahead = (datetime.now(timezone.utc) + timedelta(days=400)).replace(microsecond=0)
    paths = Paths.from_home(tmp_path)
    run = SimpleNamespace(run=SimpleNamespace(tags={AS_OF_TAG: ahead.isoformat(), SIMULATE_TAG: "true"}),
                          resources=SimpleNamespace(klantkluis=SimpleNamespace(paths=paths)))
    with pytest.raises(Failure, match="is not a demo installation .*`klantkluis --home data/sim demo`"):
        run_time(run)
    paths.truth.mkdir()
    assert run_time(run) == ahead


def test_dagster_yaml_keeps_the_operators_settings_and_always_one_run_at_a_time(tmp_path):
    import yaml
    from dagster import DagsterInstance

    from orchestration.settings import Paths
    from privacy.exceptions import PrivacyError

    paths = Paths.from_home(tmp_path, tmp_path / "keys")
    config = paths.prepare_dagster_home() / "dagster.yaml"
    first = yaml.safe_load(config.read_text())
    assert first["run_queue"] == {"max_concurrent_runs": 1} and first["retention"]["schedule"]["purge_after_days"] == 90
    config.write_text("run_queue:\n  max_concurrent_runs: 4\nretention:\n  schedule:\n    purge_after_days: 30\n"
                      "run_monitoring:\n  enabled: true\n")
    paths.prepare_dagster_home()  # as every `klantkluis run` and `ui` does
    kept = yaml.safe_load(config.read_text())
    assert kept["run_monitoring"] == {"enabled": True} and kept["retention"] == {"schedule": {"purge_after_days": 30}}
    assert kept["run_queue"] == {"max_concurrent_runs": 1} and kept["telemetry"] == {"enabled": False}
    with DagsterInstance.from_config(str(config.parent)) as instance:  # Dagster reads what was written
        assert instance.run_coordinator is not None
    # run concurrency set the current way, or by a queued coordinator: one run at a time there, and
    # no run_queue beside it, which Dagster refuses to start with (review)
    for given, where in (("concurrency:\n  runs:\n    max_concurrent_runs: 4\n", ("concurrency", "runs")),
                         ("run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n",
                          ("run_coordinator", "config"))):
        config.write_text(given)
        paths.prepare_dagster_home()
        written = yaml.safe_load(config.read_text())
        assert written[where[0]][where[1]]["max_concurrent_runs"] == 1 and "run_queue" not in written
        with DagsterInstance.from_config(str(config.parent)) as instance:
            assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
    for given, said in (("run_queue: [\n", r"is not valid YAML \(line 2\)"),
                        ("telemetry: true\n", "gives telemetry a value that is no mapping"),
                        ("run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n",
                         "does not queue runs")):
        config.write_text(given)
        with pytest.raises(PrivacyError, match=said):
            paths.prepare_dagster_home()


def test_an_upgraded_installation_closes_the_folders_an_older_release_left_readable_by_all(tmp_path):
    """Upgrade: a release before umask 077 made dagster/, dbt/ and register/ readable by every account
    (0755), and they stayed so after the upgrade; every `run` and `ui` closes them now."""
    import stat

    from orchestration.settings import Paths

    paths = Paths.from_home(tmp_path, tmp_path / "keys")
    for folder in (paths.dagster_home, paths.dbt_build, paths.register):
        folder.mkdir()
        (folder / "file").write_text("")
        folder.chmod(0o755)
    paths.prepare_dagster_home()  # as every `klantkluis run` and `ui` does
    assert [stat.S_IMODE(f.stat().st_mode) for f in (paths.dagster_home, paths.dbt_build, paths.register)] == [0o700] * 3


def test_the_sweep_removes_dagsters_record_of_runs_past_the_rule_run_history():
    from dataclasses import replace
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from dagster import DagsterInstance, job, op

    from orchestration.assets.retention import RUN_HISTORY, _run_history
    from privacy.policy import load_policy

    @op
    def nothing():
        pass

    @job
    def trivial():
        nothing()

    policy, events = load_policy(), []
    audit = SimpleNamespace(append=lambda event, **fields: events.append((event, fields)))
    now = datetime.now(timezone.utc)
    with DagsterInstance.ephemeral() as instance:
        for _ in range(2):
            trivial.execute_in_process(instance=instance)
        context = SimpleNamespace(instance=instance)
        assert _run_history(context, policy, audit, now) == 0 and len(instance.get_run_ids()) == 2  # 90 days
        policy.retention[RUN_HISTORY] = replace(policy.retention[RUN_HISTORY], duration_days=0)
        assert _run_history(context, policy, audit, now) == 2 and instance.get_run_ids() == []
    assert events == [("run_history_expired", {"now": now, "rule": RUN_HISTORY, "count": 2})]


def test_the_sweep_removes_the_breaches_recorded_before_the_rule_breach_register(tmp_path):
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from orchestration.assets.retention import _breach_records
    from orchestration.settings import Paths
    from privacy.breach import Assessment
    from privacy.breach_register import RULE, record_breach, recorded
    from privacy.policy import load_policy

    paths, policy, events, warned = Paths.from_home(tmp_path, tmp_path / "keys"), load_policy(), [], []
    context = SimpleNamespace(log=SimpleNamespace(warning=warned.append))
    audit = SimpleNamespace(append=lambda event, **fields: events.append((event, fields)))
    now = datetime(2026, 12, 7, tzinfo=timezone.utc)
    breach = record_breach(paths.breaches, Assessment("/tmp/copy.csv", "landing", (), 0), discovered=now, now=now)
    later = now + timedelta(days=policy.retention[RULE].duration_days)
    assert _breach_records(context, SimpleNamespace(paths=paths), policy, audit, later - timedelta(days=1)) == 0
    assert _breach_records(context, SimpleNamespace(paths=paths), policy, audit, later) == 1
    assert recorded(paths.breaches) == [] and warned == []
    assert events == [("breach_records_expired", {"now": later, "rule": RULE, "breaches": [breach.id]})]
    paths.breaches.write_text("\na line edited by hand\n")  # the sweep goes on, with a warning quoting no line
    assert _breach_records(context, SimpleNamespace(paths=paths), policy, audit, later + timedelta(days=9999)) == 0
    assert warned == [f"{paths.breaches}: line 2 is not a breach record, so no breach expired; put it right (or the "
                      "register back from a backup)"] and paths.breaches.read_text() == "\na line edited by hand\n"


def test_the_run_history_sweep_leaves_no_file_of_the_runs_it_removes(tmp_path):
    """Dagster's delete_run drops a run's rows, not its files: on a local instance each run keeps an
    event-log shard (history/runs/<id>.db, about a megabyte) and its captured log lines
    (storage/<id>/compute_logs/), which would stay past the rule run_history and pile up a run a day."""
    from dataclasses import replace
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from dagster import DagsterInstance, job, op

    from orchestration.assets.retention import RUN_HISTORY, _run_history
    from privacy.policy import load_policy

    @op
    def nothing(context):
        context.log.info("a log line")

    @job
    def trivial():
        nothing()

    policy = load_policy()
    policy.retention[RUN_HISTORY] = replace(policy.retention[RUN_HISTORY], duration_days=0)
    audit = SimpleNamespace(append=lambda event, **fields: None)
    with DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        ids = [trivial.execute_in_process(instance=instance).run_id for _ in range(2)]
        assert all(any(tmp_path.rglob(f"*{run_id}*")) for run_id in ids)  # the files the runs left
        assert _run_history(SimpleNamespace(instance=instance), policy, audit, datetime.now(timezone.utc)) == 2
        assert [p for run_id in ids for p in tmp_path.rglob(f"*{run_id}*")] == []


def test_the_run_history_sweep_gives_the_space_of_the_runs_it_removes_back(tmp_path):
    """Ops review: delete_run empties a run's rows in Dagster's event index (history/runs/index.db,
    about 0.9 MB a `klantkluis run`: its asset events and check results), but SQLite keeps the freed
    pages in the file, so it never shrank below its largest size (a rule run_history shortened, a
    catch-up of many days). The sweep now VACUUMs it when a quarter of it is free and no other run
    is going (VACUUM needs the file to itself); a run still going keeps it as it is."""
    import sqlite3
    from dataclasses import replace
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, MetadataValue, asset, materialize

    from orchestration.assets.retention import RUN_HISTORY, _run_history, _vacuum_run_index
    from privacy.policy import load_policy

    def counted(i):
        @asset(name=f"table_{i}")
        def table():
            return MetadataValue.md("| table | rows |\n|---|---|\n" + "".join(f"| t{j} | {j} |\n" for j in range(40)))
        return table

    def pages(index):
        with sqlite3.connect(index) as con:
            return con.execute("pragma page_count").fetchone()[0]

    policy = load_policy()
    policy.retention[RUN_HISTORY] = replace(policy.retention[RUN_HISTORY], duration_days=0)
    audit = SimpleNamespace(append=lambda event, **fields: None)
    with DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        index = instance.event_log_storage.path_for_shard("index")
        for _ in range(4):
            materialize([counted(i) for i in range(30)], instance=instance)
        before = pages(index)
        assert _run_history(SimpleNamespace(instance=instance), policy, audit, datetime.now(timezone.utc)) == 4
        assert pages(index) < before / 2
        for run_id in ("a" * 36, "b" * 36):  # the sweep's own run, and another
            instance.add_run(DagsterRun(job_name="full_refresh", run_id=run_id, status=DagsterRunStatus.STARTED))
        materialize([counted(i) for i in range(30)], instance=instance)
        instance.delete_run(instance.get_run_ids(limit=1)[0])
        kept = pages(index)
        assert _vacuum_run_index(instance) is None and pages(index) == kept


def _schedule_requests(home, queued: tuple[str, ...] = ()):
    """What the full_refresh schedule requests for the installation at `home`, with runs of the
    landing days `queued` waiting in the run queue."""
    from dagster import DagsterRunStatus, build_schedule_context, instance_for_test
    from dagster._core.test_utils import create_run_for_test

    from orchestration.definitions import defs
    from orchestration.resources import THROUGH_TAG, KlantkluisResource

    schedule = defs.resolve_schedule_def("full_refresh_schedule")
    with instance_for_test() as instance:
        for day in queued:
            # created, not yet queued (a queued one needs a code location): the schedule counts both
            create_run_for_test(instance, "full_refresh", status=DagsterRunStatus.NOT_STARTED, tags={THROUGH_TAG: day})
        with build_schedule_context(instance=instance,
                                    resources={"klantkluis": KlantkluisResource(home=str(home))}) as context:
            result = schedule.evaluate_tick(context)
        return list(result.run_requests or []) or result.skip_message


def _land(home, files: dict[str, list[str]]) -> None:
    for source, names in files.items():
        (home / "landing" / source).mkdir(parents=True, exist_ok=True)
        for name in names:
            (home / "landing" / source / name).write_text("")  # the schedule goes by the names only


def test_the_daily_schedule_requests_one_run_per_pending_landing_day_in_order_as_klantkluis_run_does(tmp_path):
    """Operations review: the 02:00 schedule sent no day tag, so its run took every pending day at
    once and the snapshots lost the earlier days' history (1,833 versions, none closed, against
    1,903 and 70 closed via `klantkluis run`)."""
    from orchestration.resources import THROUGH_TAG
    from orchestration.settings import Paths, connect_duckdb

    _land(tmp_path, {"crm_customers": ["2026-12-07.csv", "2026-12-06.csv"], "orders": ["2026-12-06.csv"],
                     "leads": ["2026-12-05.csv", "leads_export.csv"]})
    with connect_duckdb(tmp_path / "warehouse.duckdb") as con:  # the ledger: 12-05 was loaded before
        con.execute("create schema raw; create table raw._batches (source varchar, file varchar)")
        con.execute("insert into raw._batches values ('leads', '2026-12-05.csv')")
    requests = _schedule_requests(tmp_path)
    assert [(r.run_key, r.tags.get(THROUGH_TAG)) for r in requests] == [("2026-12-06", "2026-12-06"),
                                                                         ("2026-12-07", "2026-12-07")]
    # one place splits a catch-up into days: `klantkluis run` (pipeline._run_days) takes the same tags
    from orchestration.resources import day_runs

    ours = [{k: v for k, v in r.tags.items() if k.startswith("klantkluis/")} for r in requests]
    assert ours == [tags for _, tags in day_runs(Paths.from_home(tmp_path))]
    # the daemon evaluates each tick it missed while down: a day whose run waits in the queue is not requested again
    assert [r.run_key for r in _schedule_requests(tmp_path, queued=("2026-12-06",))] == ["2026-12-07"]
    assert "has a run waiting in the queue" in _schedule_requests(tmp_path, queued=("2026-12-06", "2026-12-07"))


def test_a_day_loaded_but_not_built_is_pending_again_so_the_snapshots_record_it(tmp_path):
    """Operations review: a run stopped during dbt, with the next day's files already there: the next
    `klantkluis run` went on to the next day, and the snapshots never recorded the stopped day's state
    (1,368 versions against 1,409)."""
    from datetime import datetime, timezone

    from orchestration.ingest.sources import pending_days, record_build
    from orchestration.settings import Paths, connect_duckdb

    paths = Paths.from_home(tmp_path)
    _land(tmp_path, {"crm_customers": ["2026-12-05.csv", "2026-12-06.csv", "2026-12-07.csv"],
                     "orders": ["orders_export.csv"]})
    at = [datetime(2026, 12, d, 2, tzinfo=timezone.utc) for d in (6, 7)]
    with connect_duckdb(paths.warehouse) as con:
        con.execute("create schema raw; create table raw._batches (source varchar, file varchar, loaded_at timestamptz, "
                    "sha256 varchar default 'a content key')")
        con.executemany("insert into raw._batches (source, file, loaded_at) values ('crm_customers', ?, ?)",
                        [["2026-12-05.csv", at[0]], ["2026-12-06.csv", at[1]], ["orders_export.csv", at[1]]])
    assert pending_days(paths) == ["2026-12-07"]  # an installation without the record: as before
    paths.state.mkdir(parents=True, exist_ok=True)
    record_build(paths, at[0])  # the build of 12-05's run; 12-06's run was stopped after its loads
    assert pending_days(paths) == ["2026-12-06", "2026-12-07"]
    record_build(paths, at[1])
    assert pending_days(paths) == ["2026-12-07"]
    # Review: `klantkluis unload` of an old day's file (gone by hand) is no landing day's load: it made
    # that day pending, so every `klantkluis run` and daily schedule added a catch-up run of 2026-12-05
    from orchestration.ingest.writer import UNLOADED

    (tmp_path / "landing" / "crm_customers" / "2026-12-05.csv").unlink()
    with connect_duckdb(paths.warehouse) as con:
        con.execute("insert into raw._batches values ('crm_customers', '2026-12-05.csv', ?, ?)",
                    [datetime(2026, 12, 7, 9, tzinfo=timezone.utc), UNLOADED])
    assert pending_days(paths) == ["2026-12-07"]


def test_the_daily_schedule_requests_one_run_without_a_day_when_none_is_pending(tmp_path):
    """Retention, requests and the rebuild run daily, new files or not."""
    from orchestration.resources import THROUGH_TAG

    assert [r.tags.get(THROUGH_TAG) for r in _schedule_requests(tmp_path)] == [None]  # no landing folder at all
    _land(tmp_path, {"orders": ["orders_export.csv"]})  # a file without a day: every run takes it
    assert [r.tags.get(THROUGH_TAG) for r in _schedule_requests(tmp_path)] == [None]


def test_the_daily_schedule_still_requests_a_run_while_another_process_holds_the_warehouse(
        tmp_path, warehouse_held_elsewhere):
    """A `process-requests` from cron, a request run or a compaction holding the warehouse at 02:00:
    one run all the same, not a failed tick, but of the oldest pending day only (it took every
    pending day at once, and the snapshots lost the earlier days' history)."""
    from orchestration.resources import THROUGH_TAG
    from orchestration.settings import connect_duckdb

    _land(tmp_path, {"orders": ["2026-12-06.csv", "2026-12-07.csv"]})
    connect_duckdb(tmp_path / "warehouse.duckdb").close()
    with warehouse_held_elsewhere(tmp_path / "warehouse.duckdb"):
        requests = _schedule_requests(tmp_path)
    # which days are pending is unknown: the run decides on the oldest itself (resources.through_day)
    assert [r.tags.get(THROUGH_TAG) for r in requests] == ["oldest"]


def _after_oldest(home, tags: dict[str, str]):
    """What the sensor landing_days_after_oldest requests after a successful full_refresh run with `tags`."""
    from dagster import DagsterEvent, DagsterEventType, DagsterRunStatus, build_run_status_sensor_context, \
        instance_for_test
    from dagster._core.test_utils import create_run_for_test

    from orchestration.definitions import defs
    from orchestration.resources import KlantkluisResource

    sensor = defs.resolve_sensor_def("landing_days_after_oldest")
    with instance_for_test() as instance:
        run = create_run_for_test(instance, "full_refresh", status=DagsterRunStatus.SUCCESS, tags=tags)
        context = build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_instance=instance, dagster_run=run,
            dagster_event=DagsterEvent(DagsterEventType.RUN_SUCCESS.value, "full_refresh"),
            resources={"klantkluis": KlantkluisResource(home=str(home))})
        result = sensor(context)
        return result if not isinstance(result, list) else [(r.run_key, r.tags) for r in result]


def test_after_a_run_of_the_oldest_day_the_later_days_follow_each_in_its_own_run(tmp_path, warehouse_held_elsewhere):
    """Not a day later at the next tick (while cron's `process-requests` keeps colliding with 02:00,
    a backlog would never shrink): as soon as the run of the oldest day succeeded."""
    from dagster import SkipReason

    from orchestration.resources import THROUGH_TAG
    from orchestration.settings import connect_duckdb

    OLDEST_DAY_TAG = "klantkluis/oldest_day"  # where the run recorded the day it decided on
    _land(tmp_path, {"orders": ["2026-12-05.csv", "2026-12-06.csv", "2026-12-07.csv"]})
    with connect_duckdb(tmp_path / "warehouse.duckdb") as con:  # the oldest day's run loaded 12-05
        con.execute("create schema raw; create table raw._batches (source varchar, file varchar)")
        con.execute("insert into raw._batches values ('orders', '2026-12-05.csv')")
    oldest = {THROUGH_TAG: "oldest", OLDEST_DAY_TAG: "2026-12-05"}
    requests = _after_oldest(tmp_path, oldest)
    assert [tags.get(THROUGH_TAG) for _, tags in requests] == ["2026-12-06", "2026-12-07"]
    assert all(key.endswith(day) and key != day for (key, _), day in zip(requests, ["2026-12-06", "2026-12-07"]))
    with warehouse_held_elsewhere(tmp_path / "warehouse.duckdb"):  # held again: one more run of the oldest day
        assert [tags for _, tags in _after_oldest(tmp_path, oldest)] == [{THROUGH_TAG: "oldest"}]
    # nothing to follow up: no day was pending, or a run of a day (the schedule's, `klantkluis run`'s)
    assert isinstance(_after_oldest(tmp_path, {THROUGH_TAG: "oldest", OLDEST_DAY_TAG: "none"}), SkipReason)
    assert isinstance(_after_oldest(tmp_path, {THROUGH_TAG: "2026-12-05"}), SkipReason)


def test_klantkluis_run_reload_loads_every_file_again_in_its_last_run_with_one_run_per_pending_day(
        tmp_path, monkeypatch):
    """With one pending day (a late file for an earlier day), `--reload` ran one run tagged with that
    day: the files of the later days, loaded before, were not loaded again, in silence."""
    from dagster import JobDefinition

    from orchestration import pipeline, resources
    from orchestration.resources import RELOAD_TAG, THROUGH_TAG
    from orchestration.settings import Paths

    monkeypatch.setenv("KLANTKLUIS_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.delenv("KLANTKLUIS_KEY_DIR", raising=False)
    launched = []

    class Result:
        success, all_events = True, []

    def execute_in_process(self, tags, **_):
        launched.append({k: v for k, v in tags.items() if k in (THROUGH_TAG, RELOAD_TAG)})
        return Result()

    monkeypatch.setattr(JobDefinition, "execute_in_process", execute_in_process)
    pending = []
    monkeypatch.setattr(resources, "pending_days", lambda paths: pending)  # no warehouse: no summary either
    for pending[:], expected in [
            (["2026-12-01"], [{RELOAD_TAG: "all"}]),  # every file, 12-02 and later days loaded before too
            (["2026-12-01", "2026-12-03"], [{THROUGH_TAG: "2026-12-01"}, {RELOAD_TAG: "all"}]),
            ([], [{RELOAD_TAG: "all"}])]:
        launched.clear()
        assert pipeline._run_days(Paths.from_home(tmp_path), None, reload=True, simulate=False) == 0
        assert launched == expected
    launched.clear()  # without --reload: one run per day, each with its day
    pending[:] = ["2026-12-01", "2026-12-03"]
    assert pipeline._run_days(Paths.from_home(tmp_path), None, reload=False, simulate=False) == 0
    assert launched == [{THROUGH_TAG: "2026-12-01"}, {THROUGH_TAG: "2026-12-03"}]


def test_a_raw_source_is_its_ingest_asset_without_a_dagster_asset_key_in_its_yaml():
    """New-source walkthrough: a source declared without `meta.dagster.asset_key` loaded without a word,
    with an extra external asset `<source>/<table>` as the staging model's parent instead of the
    ingest asset raw/<table>: the lineage from the landing file was cut."""
    from orchestration.assets.dbt import Translator

    props = {"resource_type": "source", "source_name": "helpdesk", "name": "support_tickets", "schema": "raw",
             "meta": {"subject": {"kind": "customer", "key": "customer_id"}}, "config": {},
             "fqn": ["klantkluis", "staging", "helpdesk", "helpdesk", "support_tickets"]}
    assert Translator().get_asset_key(props) == AssetKey(["raw", "support_tickets"])
    load_record = {**props, "source_name": "warehouse", "name": "_batches", "meta": {}}
    assert Translator().get_asset_key(load_record) == AssetKey(["warehouse", "_batches"])  # no ingest asset: as dbt names it


def test_a_column_an_upgrade_took_out_of_a_persisted_table_is_named_with_its_fix():
    """Upgrade walk: after a release took a column out of the snapshot, classification_complete stopped
    every run with 'in the warehouse but not classified' and no fix; the README's is named for the raw
    layer and snapshots (dbt does not rebuild them), not for a model, whose YAML declares it."""
    import duckdb

    from orchestration.assets.privacy import _warehouse_findings
    from orchestration.settings import DBT_PROJECT_DIR
    from privacy.classification import load_classification

    classification = load_classification(DBT_PROJECT_DIR)
    con = duckdb.connect()
    for schema, name in (("snapshots", "snap_crm__customers"), ("marts", "customer_rfm")):
        [table] = [t for t in classification if t.name == name]
        con.execute(f"create schema {schema}")
        con.execute(f"create table {schema}.{name} ({', '.join(f'{c.name} varchar' for c in table.columns)}, "
                    "old_column varchar)")
    findings = sorted(_warehouse_findings(con, classification))
    assert findings == [
        "marts.customer_rfm.old_column: in the warehouse but not classified",
        "snapshots.snap_crm__customers.old_column: in the warehouse but not classified: declare it again, or if "
        "its data may go, drop it while nothing runs (`alter table snapshots.snap_crm__customers drop column "
        "old_column`; README: Upgrading)"]


@pytest.mark.parametrize("tags, says", [
    ({"klantkluis/as_of": "2026-12-07 25:00"}, "klantkluis/as_of has the value '2026-12-07 25:00' (hour must be in "
                                               "0..23): write an ISO 8601 time"),
    ({"klantkluis/reload": "yes"}, "klantkluis/reload has the value 'yes': write all, or leave it out"),
    ({"klantkluis/simulate": "True"}, "klantkluis/simulate has the value 'True': write true"),
    ({"klantkluis/through_day": "2026-12-5"}, "klantkluis/through_day has the value '2026-12-5'"),
    ({"klantkluis/through_day": "2026/12/05"}, "write a landing day as its files are named, 2026-11-01, or oldest"),
    ({"klantkluis/dbt_vars": "{activity_window_days: 90}"}, "klantkluis/dbt_vars has the value "
                                                            "'{activity_window_days: 90}' (not JSON"),
    ({"klantkluis/dbt_vars": '{"activty_window_days": 90}'}, "no dbt var activty_window_days in dbt_project.yml"),
    ({"klantkluis/dbt_vars": '{"anonymised_prefix": "x-"}'}, "anonymised_prefix is not set per run: orders kept "
                                                              "anonymously"),
    ({"klantkluis/as-of": "2026-12-07T20:00:00"}, "the tag klantkluis/as-of is none of klantkluis's, so no step would "
                                                  "read it: did you mean klantkluis/as_of?"),
])
def test_a_mistyped_tag_from_the_ui_stops_the_run_before_any_step_acts_naming_the_fix(tags, says):
    """UI review: launched from the Launchpad, `klantkluis/reload: yes` or a misspelt `klantkluis/as-of`
    ran without a word (no file reloaded, the run at the real time), `klantkluis/through_day: 2026-12-5`
    took every pending day, and a 25th hour in `klantkluis/as_of` or dbt vars that are not JSON failed a
    step on a bare ValueError or JSONDecodeError (the dbt vars only after every source had loaded)."""
    from types import SimpleNamespace

    from dagster import Failure

    from orchestration.resources import run_time

    with pytest.raises(Failure) as failed:
        run_time(SimpleNamespace(run=SimpleNamespace(tags=tags)))
    assert failed.value.description.startswith("This run's tags are mistyped, so no step runs: the tag ")
    assert says in failed.value.description


def test_the_tags_klantkluis_sets_itself_and_well_typed_tags_pass():
    from types import SimpleNamespace

    from orchestration.resources import run_time

    tags = {"klantkluis/as_of": "2026-11-30T06:00:00+01:00", "klantkluis/reload": "all",
            "klantkluis/through_day": "oldest", "klantkluis/oldest_day": "none", "klantkluis/command_line": "run",
            "klantkluis/dbt_vars": '{"as_of": "2026-11-30", "activity_window_days": 180}',
            "klantkluis/request_id": "req-1", "klantkluis/request_type": "access", "klantkluis/kind": "x",
            "dagster/parent_run_id": "a" * 36}
    assert run_time(SimpleNamespace(run=SimpleNamespace(tags=tags))).year == 2026
    tags["klantkluis/through_day"] = "2026-11-29"
    assert run_time(SimpleNamespace(run=SimpleNamespace(tags=tags))).year == 2026


def test_a_blocking_dbt_check_says_what_to_do_when_it_fails():
    """UI review: a failed blocking dbt test showed on its check's page as "Every row has a value in
    subject_id." and a failed row count, and the step's error only said to read dbt.log: nothing said
    that nothing was published or where the query selecting the failing rows was."""
    from orchestration.assets.dbt import dbt_models

    specs = {(s.asset_key.to_user_string(), s.name): s for s in dbt_models.check_specs}
    unique = specs[("staging/stg_shop__orders", "unique_stg_shop__orders_order_id")].description
    assert unique.startswith("No two rows have the same order_id. When it fails, the build stops before anything is "
                             "published (the BI copies keep the last good build): `<KLANTKLUIS_HOME>/dbt/compiled/"
                             "klantkluis/models/staging/shop/_shop__models.yml/unique_stg_shop__orders_order_id.sql`")
    singular = specs[("marts/marketing_audience", "marketing_audience_has_consent")].description
    assert "`<KLANTKLUIS_HOME>/dbt/compiled/klantkluis/tests/marketing_audience_has_consent.sql`" in singular
    for (asset, name), spec in specs.items():
        assert ("When it fails" in spec.description) == spec.blocking, (asset, name)
    # a warn test's own description names its fix, and the run summary shows it as it is
    assert specs[("marts/clv_model_parameters", "clv_fits_converged")].description.rstrip() \
        .endswith("until more order history is loaded.")


def test_every_blocking_check_says_what_to_do_when_it_fails():
    """UI review: the blocking checks written in Python said what they prove, not what to do when they
    fail: "The orders expectation suite: rules broken and rows quarantined per rule (never values).",
    "After the sweep no row ... is past its retention rule", classification_complete's list of rules."""
    from collections import Counter

    from orchestration.assets.ingest import _check
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    specs = {key: graph.get_check_spec(key) for key in graph.asset_check_keys}
    silent = [key.to_user_string() for key, spec in specs.items()
              if spec.blocking and "When it fails" not in (spec.description or "")]
    assert not silent
    gate = specs[next(k for k in specs if k.to_user_string() == "raw/orders:expectations")].description
    assert "`klantkluis check orders FILE` says what each rule asks" in gate
    # the failed result itself names the command with the file's source
    result = _check(AssetKey(["raw", "orders"]), [("2026-12-07.csv", 12, 12, None)], Counter(), 0.5,
                    ["2026-12-07.csv"], Counter({"expect_column_values_to_match_regex:amount": 12}))
    assert result.description.startswith("more than 50% of the rows of 2026-12-07.csv quarantined; most often "
                                         "expect_column_values_to_match_regex:amount (12 rows)")
    assert "`klantkluis check orders FILE` says what each rule asks" in result.description


def test_a_failed_dbt_build_shows_in_the_ui_without_dbts_colour_codes():
    """UI review: the error of a failed dbt step quoted dbt's lines with their colour codes, which the
    UI's error dialog shows as they are: "94 of 115 FAIL 1 zz ... [\\x1b[31mFAIL 1\\x1b[0m in 0.02s]"."""
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    from orchestration.assets.dbt import without_colours

    said = ("failed with exit code `1`.\n\n94 of 115 FAIL 1 unique_x ...... [\x1b[31mFAIL 1\x1b[0m in 0.02s]\n\n"
            "\x1b[31mFailure in test unique_x (models/x.yml)\x1b[0m\n")
    failure = without_colours(DagsterDbtCliRuntimeError(description=said))
    assert isinstance(failure, DagsterDbtCliRuntimeError)  # the alert names the error's class
    assert "\x1b" not in str(failure) and "\x1b" not in failure.description
    assert "[FAIL 1 in 0.02s]" in failure.description and "Failure in test unique_x (models/x.yml)" in str(failure)


def test_the_launchpad_shows_the_tags_full_refresh_takes():
    """UI review: the tags the README documents for a launch from the UI were named nowhere in the UI."""
    from orchestration.definitions import defs
    from orchestration.resources import TAG_VALUES

    described = defs.resolve_job_def("full_refresh").description
    assert all(f"{tag}: {value}" in described for tag, value in TAG_VALUES.items())
    assert "klantkluis/reload: all" in described and "klantkluis/simulate: true" in described
