"""Where everything lives: one folder per installation (KLANTKLUIS_HOME), with keys apart.

Layout under the home folder: landing/ (input files), truth/ (demo ground truth), warehouse.duckdb,
published/ (read-only BI copies), state/ (audit log, request ledger), inbox/ and outbox/
(data subject requests), register/ (the generated written policy), dagster/ (DAGSTER_HOME).
Keys (master key, pseudonymisation key, the per-subject key store) live in KLANTKLUIS_KEY_DIR
(default <home>/keys), never inside the warehouse file; point it elsewhere in production.
"""

import contextlib
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from privacy import paths as privacy_paths
from privacy.breach_register import REGISTER_FILE
from privacy.exceptions import PrivacyError
from privacy.paths import HOME_VAR
from privacy.rights.requests import LOCAL_TIME

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"
AS_OF_VAR = "KLANTKLUIS_AS_OF"  # the build time dbt reads (macro as_of), set per run
# The business's calendar: the schedules run on it, as request deadlines and dbt's NPS periods count on it.
TIME_ZONE = LOCAL_TIME.key
# dbt from the same environment as this interpreter, so an unactivated venv works too.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt") if (Path(sys.executable).parent / "dbt").exists() \
    else shutil.which("dbt") or "dbt"
# DuckDB's memory budget per process (beyond it, joins, sorts and windows spill to <warehouse>.tmp);
# its own default is 80 % of RAM. dbt reads it through profiles.yml, ingest through `connect`.
DUCKDB_MEMORY_LIMIT = os.environ.get("KLANTKLUIS_DUCKDB_MEMORY_LIMIT", "2GB")


def return_freed_memory() -> None:
    """Let Arrow give freed buffers back to the system at once. Its default allocator (mimalloc) keeps
    them for reuse, but what a file's rows free is needed next by DuckDB and Python, which do not
    reuse them: the writer alone peaked at 3.2 GiB on 10 M orders that way, 2.6 GiB with jemalloc
    returning pages at once. The price is system CPU time: a full reload at 1 M customers took
    230 s instead of 226 s. Called on import, so every process of a run (helpers too) has it."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow build without jemalloc keeps its default
        return
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(0)


return_freed_memory()


def keep_files_private() -> None:
    """What this process creates is its account's alone (umask 077): the warehouse with its WAL and
    spill files, dbt's logs and compiled SQL, Dagster's storage, the register (Art. 32(1)(b)). The
    BI copies are opened up on purpose (orchestration/publish.py). Called on import, as above."""
    os.umask(0o077)


keep_files_private()


def settings_problem() -> str | None:
    """What is wrong with the settings from the environment, named with its fix; None if nothing."""
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", DUCKDB_MEMORY_LIMIT, re.IGNORECASE):
        return (f"KLANTKLUIS_DUCKDB_MEMORY_LIMIT={DUCKDB_MEMORY_LIMIT!r} is not a size; "
                "set a number and a unit, such as 2GB or 512MB, or unset it (default 2GB)")
    return None


class WarehouseBusy(Exception):
    """Another process holds the warehouse file (DuckDB has one writer); the message names it."""


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal, for what DuckDB takes no parameter for (a file to attach
    or copy to, a comment): an installation's path may hold a quote."""
    return "'" + text.replace("'", "''") + "'"


class WarehouseWalMismatch(Exception):
    """The warehouse's write-ahead log (``<file>.wal``) cannot be replayed onto it; the message names the fix."""


def connect_duckdb(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that keeps to DUCKDB_MEMORY_LIMIT; WarehouseBusy while another process holds the file."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        if "replaying wal" in str(exc).lower():  # DuckDB's own text may quote a key value: only its class is named
            raise WarehouseWalMismatch(
                f"the warehouse {path} cannot be opened: its write-ahead log {path}.wal does not fit it ({type(exc).__name__}). "
                "A .wal belongs to the file it was written with; after a restore, one left beside the lost file "
                f"stays beside the restored one. Move {Path(path).name}.wal out of the folder (keep it until the "
                "warehouse is right) and run again; put a backup's .wal back only with its own warehouse file.") from None
        if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc).lower():
            raise
        holder = re.search(r" \(PID \d+\)", str(exc))  # DuckDB names the process that holds the file
        raise WarehouseBusy(f"the warehouse {path} is in use by another process{holder[0] if holder else ''}: a run "
                            "from the Dagster UI or a schedule, or another klantkluis command (DuckDB has one "
                            "writer). Run again when it has finished.") from None
    if not read_only:  # a warehouse made before keep_files_private, or copied in, is closed too
        for file in (Path(path), Path(f"{path}.wal")):
            with contextlib.suppress(OSError):
                os.chmod(file, 0o600)
    con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    return con


@dataclass(frozen=True)
class Paths:
    home: Path
    key_dir: Path

    @classmethod
    def from_home(cls, home: str | Path | None = None, key_dir: str | Path | None = None) -> "Paths":
        """Paths for `home` and `key_dir`; the defaults are `privacy.paths`' ($KLANTKLUIS_HOME, else
        ./data of the project; $KLANTKLUIS_KEY_DIR, else <home>/keys)."""
        env = {**os.environ, **({HOME_VAR: str(home)} if home else {})}
        root = privacy_paths.home_dir(env).resolve()
        keys = Path(key_dir) if key_dir else privacy_paths.key_dir({**env, HOME_VAR: str(root)})
        return cls(root, keys.resolve())

    landing = property(lambda self: self.home / "landing")
    truth = property(lambda self: self.home / "truth")
    warehouse = property(lambda self: self.home / "warehouse.duckdb")
    published = property(lambda self: self.home / "published")
    state = property(lambda self: privacy_paths.state_dir({HOME_VAR: str(self.home)}))
    keystore = property(lambda self: self.key_dir / "keystore.sqlite")
    audit_log = property(lambda self: self.state / "audit.jsonl")
    # the latest load the last completed dbt build of the snapshots read (orchestration.ingest.sources.pending_days)
    built_through = property(lambda self: self.state / "built_through")
    inbox = property(lambda self: self.home / "inbox")
    outbox = property(lambda self: self.home / "outbox")
    register = property(lambda self: self.home / "register")
    breaches = property(lambda self: self.state / REGISTER_FILE)  # the breach register (Art. 33(5))
    breach_drafts = property(lambda self: self.register / "breaches")  # its draft notifications (Art. 33(3))
    dagster_home = property(lambda self: self.home / "dagster")
    dbt_build = property(lambda self: self.home / "dbt")  # the last dbt build's log, run results, compiled SQL
    mapping = property(lambda self: self.home / "sources.yml")

    def audit(self):
        """The installation's audit log, keyed by ``audit.key`` in its key folder (Art. 5(2), 32(1)(b))."""
        from privacy.audit import AuditLog

        return AuditLog(self.audit_log, key_dir=self.key_dir)

    def is_installation(self) -> bool:
        """Whether ``home`` holds an installation: a landing zone, warehouse, inbox, state or sources.yml."""
        return any(p.exists() for p in (self.landing, self.warehouse, self.inbox, self.state, self.mapping))

    def environment(self) -> dict[str, str]:
        """Environment variables for subprocesses (dbt, dagster dev) that must see the same home."""
        return {"KLANTKLUIS_HOME": str(self.home), "KLANTKLUIS_KEY_DIR": str(self.key_dir),
                "DAGSTER_HOME": str(self.dagster_home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "KLANTKLUIS_DUCKDB_MEMORY_LIMIT": DUCKDB_MEMORY_LIMIT}

    def prepare_dagster_home(self) -> Path:
        """DAGSTER_HOME, and the inbox its request sensor watches: every installation's `run` and UI
        pass here, so a request dropped in ``<home>/inbox`` finds the folder (Art. 12(3))."""
        from orchestration.requests.inbox import make_inbox

        make_inbox(self.inbox)
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        self.close_older_folders()
        _dagster_settings(self.dagster_home / "dagster.yaml")
        return self.dagster_home

    def close_older_folders(self) -> None:
        """Close the folders of run history and logs that a release before ``keep_files_private`` left
        readable by every account (Art. 32(1)(b)): Dagster's runs and their logs, dbt's logs and compiled
        SQL, the register; an older release's error text could quote a value. Closing the folder makes
        all it holds unreachable to others, as an upgraded warehouse is closed on its next write."""
        for folder in (self.dagster_home, self.dbt_build, self.register):
            with contextlib.suppress(OSError):
                if not folder.is_symlink() and folder.is_dir() and folder.stat().st_mode & 0o077:
                    folder.chmod(0o700)


# Until the operator sets their own: schedule and sensor ticks do not pile up (the runs themselves
# go by the policy's rule run_history, in the retention sweep).
DAGSTER_DEFAULTS = {"retention": {"schedule": {"purge_after_days": 90},
                                  "sensor": {"purge_after_days": {"skipped": 7, "failure": 30, "success": 90}}}}


def _dagster_settings(config: Path) -> None:
    """Set in Dagster's ``dagster.yaml`` what klantkluis needs: one run at a time (DuckDB allows one
    writing process: schedules must queue, not collide), wherever the file sets run concurrency
    (``run_coordinator``, ``concurrency: runs``, else ``run_queue``), and no telemetry; add
    ``DAGSTER_DEFAULTS`` where absent; keep every other setting (comments do not survive a change).
    PrivacyError, naming the fix, for a file klantkluis cannot work with."""
    import yaml

    def refused(why: str) -> PrivacyError:
        return PrivacyError(f"{config} {why}: correct it, or remove the file to have klantkluis write its settings anew")

    try:
        given = yaml.safe_load(config.read_text(encoding="utf-8")) if config.exists() else {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        raise refused(f"is not valid YAML ({f'line {where.line + 1}' if where else 'it'})") from None
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise refused("holds no settings (a mapping of Dagster's keys)")
    if bad := [k for k in ("telemetry", "run_queue", "concurrency", "run_coordinator", "retention")
               if given.get(k) is not None and not isinstance(given[k], dict)]:
        raise refused(f"gives {', '.join(bad)} a value that is no mapping of settings")
    merged = {**DAGSTER_DEFAULTS, **given, "telemetry": {**(given.get("telemetry") or {}), "enabled": False}}
    if coordinator := merged.get("run_coordinator"):
        if coordinator.get("class") != "QueuedRunCoordinator":
            raise refused("sets a run_coordinator that does not queue runs, while klantkluis needs them run one at "
                          "a time (DuckDB has one writer): use QueuedRunCoordinator, or leave run_coordinator out")
        merged["run_coordinator"] = {**coordinator, "config": {**(coordinator.get("config") or {}),
                                                                "max_concurrent_runs": 1}}
    elif "concurrency" in merged:
        runs = {**(merged["concurrency"].get("runs") or {}), "max_concurrent_runs": 1}
        merged["concurrency"] = {**merged["concurrency"], "runs": runs}
    else:
        merged["run_queue"] = {**(merged.get("run_queue") or {}), "max_concurrent_runs": 1}
    if merged != given:
        config.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
