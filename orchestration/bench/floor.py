"""The floor: the pipeline's transformations as plain SQL in one DuckDB process, without orchestration.

What it runs, in one connection to `<bench home>/floor/warehouse.duckdb` (the file name makes the
catalog `warehouse`, so the dbt project's compiled SQL runs unchanged):

1. read: every landing file of the day with DuckDB's own readers (`read_csv(all_varchar)`,
   `read_json`) into `raw.<source>` tables with the raw layer's columns. The transforms become SQL:
   the pseudonym is `sha256(kind:key)` (the pipeline uses a keyed HMAC), age band and postcode
   area are SQL expressions, and the encrypted and redacted columns are NULL: the floor neither
   encrypts nor redacts, so no direct identifier or free text is written to its file.
2. seeds: `config.<seed>` from the dbt seed CSVs.
3. models: the compiled code of every dbt model and snapshot, in dependency order, from a
   `dbt compile` into the bench folder (not timed): SQL models as `create view` / `create table`
   as dbt materialises them; the Python models (CLV fit and predictions) by running their
   compiled code with the same `dbt` object shape dbt-duckdb passes (`ref` -> relation); the
   snapshot as its first version (`dbt_valid_from` = now, `dbt_valid_to` null).

Not in the floor: validation and quarantine, encryption, key creation, redaction, the retention
sweep, dbt tests, the register and the publication. The floor is what the same data would cost
with none of the guarantees; the pipeline's overhead over it is the price of those guarantees
plus orchestration.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from orchestration.ingest.schema import landing_columns
from orchestration.settings import AS_OF_VAR, DBT_PROJECT_DIR, Paths
from privacy.tables import RECTIFIED

_AGE_BAND = ("case when {d} is null or date_diff('year', {d}, {now}) - (strftime({d}, '%m%d') > strftime({now}, '%m%d'))::int "
             "not between 0 and 129 then null else "
             "((date_diff('year', {d}, {now}) - (strftime({d}, '%m%d') > strftime({now}, '%m%d'))::int) // 10 * 10)::varchar "
             "|| '-' || ((date_diff('year', {d}, {now}) - (strftime({d}, '%m%d') > strftime({now}, '%m%d'))::int) // 10 * 10 + 9)::varchar end")


def compile_project(target: Path, as_of: str, home: Path) -> dict:
    """`dbt compile` into `target` (with `home` as KLANTKLUIS_HOME); returns the manifest."""
    dbt = Path(sys.executable).parent / "dbt"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KLANTKLUIS_HOME": str(home), "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", AS_OF_VAR: as_of}
    done = subprocess.run([str(dbt), "compile", "--quiet"],
                          cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"dbt compile failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads((target / "manifest.json").read_text())


def _raw_select(table, files: list[Path], now_sql: str) -> str:
    names = landing_columns(table)
    file_list = "[" + ", ".join(f"'{p}'" for p in files) + "]"
    if files[0].suffix == ".jsonl":
        cols = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in names) + "}"
        reader = f"read_json({file_list}, format='newline_delimited', columns={cols}, filename=true)"
    else:
        reader = f"read_csv({file_list}, header=true, all_varchar=true, filename=true)"
    exprs = []
    for c in table.columns:
        src = f'nullif("{c.from_column}", \'\')'
        if c.name == "_source_file":
            exprs.append("parse_filename(filename) as _source_file")
        elif c.name == "_source_line":
            exprs.append("(row_number() over (partition by filename) + 1)::bigint as _source_line")
        elif c.name == "_batch_id":
            exprs.append("'floor' as _batch_id")
        elif c.name == RECTIFIED:
            exprs.append(f"null::varchar as {RECTIFIED}")
        elif c.transform == "pseudonymise":
            exprs.append(f"sha256('{table.subject.kind}:' || trim(\"{c.from_column}\")) as \"{c.name}\"")
        elif c.transform == "encrypt":
            exprs.append(f'null::blob as "{c.name}"')
        elif c.transform == "redact":
            exprs.append(f'null::varchar as "{c.name}"')
        elif c.transform == "age_band":
            d = f"try_strptime({src}, '%Y-%m-%d')::date"
            exprs.append(_AGE_BAND.format(d=d, now=now_sql) + f' as "{c.name}"')
        elif c.transform == "postcode_area":
            exprs.append(f"nullif(regexp_extract({src}, '^\\s*([1-9][0-9]{{3}})\\s*(?:[A-Za-z]{{2}})?\\s*$', 1), '') "
                         f'as "{c.name}"')
        else:
            exprs.append(f'{src} as "{c.name}"')
    return f"select {', '.join(exprs)} from {reader}"


def _run_python_model(con, node: dict) -> None:
    namespace: dict = {"__name__": f"floor_{node['name']}"}
    exec(compile(node["compiled_code"], node["original_file_path"], "exec"), namespace)  # the project's own model
    dbt = namespace["dbtObj"](lambda name: con.sql(f"select * from {name}"))
    df = namespace["model"](dbt, con)
    con.register("_model_df", df)
    con.execute(f"create table {node['relation_name']} as select * from _model_df")
    con.unregister("_model_df")


def run_floor(paths: Paths, tables, day: str, manifest: dict, now_sql: str, folder: Path) -> dict:
    """Build raw -> staging -> intermediate -> marts for landing day `day`; seconds per step."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    started = time.perf_counter()
    with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
        for schema in ("raw", "config", "staging", "intermediate", "marts", "snapshots"):
            con.execute(f"create schema {schema}")
        t0 = time.perf_counter()
        for table in tables:
            files = [p for p in sorted((paths.landing / table.name).glob("*")) if p.stem == day]
            if files:
                con.execute(f'create table raw."{table.name}" as {_raw_select(table, files, now_sql)}')
                rows[table.name] = con.execute(f'select count(*) from raw."{table.name}"').fetchone()[0]
        timings["read landing into raw"] = time.perf_counter() - t0
        nodes = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] in ("model", "seed", "snapshot")}
        order = TopologicalSorter({uid: [d for d in n.get("depends_on", {}).get("nodes", []) if d in nodes]
                                   for uid, n in nodes.items()}).static_order()
        t0 = time.perf_counter()
        for uid in order:
            node, step = nodes[uid], time.perf_counter()
            kind, rel = node["resource_type"], node["relation_name"]
            if kind == "seed":
                path = Path(node["root_path"]) / node["original_file_path"]
                con.execute(f"create table {rel} as select * from read_csv('{path}', header=true)")
            elif kind == "snapshot":
                con.execute(f"create table {rel} as select *, md5(subject_id || {now_sql}::varchar) as dbt_scd_id, "
                             f"{now_sql} as dbt_updated_at, {now_sql} as dbt_valid_from, "
                             f"null::timestamp as dbt_valid_to from ({node['compiled_code']})")
            elif node["original_file_path"].endswith(".py"):
                _run_python_model(con, node)
            elif node["config"]["materialized"] == "view":
                con.execute(f"create view {rel} as ({node['compiled_code']})")
            else:
                con.execute(f"create table {rel} as ({node['compiled_code']})")
            layer = "python models (CLV fit, predictions)" if node["original_file_path"].endswith(".py") else (
                "snapshot" if kind == "snapshot" else f"{kind}s" if kind == "seed" else node["fqn"][1])
            timings[layer] = timings.get(layer, 0.0) + time.perf_counter() - step
        timings["all models"] = time.perf_counter() - t0
        con.execute("checkpoint")
    timings["total"] = time.perf_counter() - started
    return {"seconds": timings, "raw_rows": rows,
            "method": "landing files read with DuckDB readers; dbt's compiled SQL and Python models run in "
                      "dependency order in one DuckDB connection (see orchestration/bench/floor.py)"}
