"""A helper process for the raw-layer writer: it protects half of every large chunk, so ingest
uses both cores where the work is per value in Python (encryption, Art. 32; redaction of free
text, Art. 25).

The helper is a fresh interpreter (multiprocessing "spawn": no fork of a process that runs
DuckDB and Dagster threads). It opens its own key store and master key from the same
configuration as the writer (nothing secret is sent to it), builds its own redactor from the
landing files, and runs the same `privacy.ingest.protect_table` on the rows it is given. Landing
rows and protected rows travel over a pipe between the two processes, in memory only; nothing is
written to a file. Keys are made by the writer before a chunk is split, so only one process ever
writes to the key store.
"""

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime

_STATE: dict = {}


def available() -> bool:
    """Whether a second core is there to use."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # not on Linux
        return (os.cpu_count() or 1) > 1


def _init(env: dict[str, str], home: str, key_dir: str) -> None:
    os.environ.update(env)
    from orchestration.settings import Paths
    from privacy.keystore import KeyStore
    from privacy.masterkey import master_key_from_env
    from privacy.pseudonym import pseudonymiser_from_env

    paths = Paths.from_home(home, key_dir)
    environ = {**os.environ, **paths.environment()}
    _STATE.update(paths=paths, pseudonymiser=pseudonymiser_from_env(environ),
                  keystore=KeyStore(paths.keystore, master_key_from_env(environ)))


def _redactor(table):
    from orchestration.ingest.known_persons import redactor_for

    return redactor_for(_STATE["paths"], table)


def _protect(table, rows, subject_ids: list, now: datetime, encryption: bool):
    from privacy.ingest import protect_table

    redactor = _redactor(table)
    return protect_table(table, rows, keystore=_STATE["keystore"], pseudonymiser=_STATE["pseudonymiser"],
                         redactor=redactor, now=now, subject_ids=subject_ids, encryption=encryption)


class Helper:
    """One helper process; `protect` returns a future of `protect_table` run there."""

    def __init__(self, paths):
        env = {k: v for k, v in os.environ.items() if k.startswith(("KLANTKLUIS_", "DAGSTER_", "DBT_"))}
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init, initargs=(env, str(paths.home), str(paths.key_dir)))

    def warm(self, table) -> None:
        """Start the process and build what protecting `table` needs (the redactor's known persons:
        seconds at a million persons) while this process reads and validates the file."""
        self._pool.submit(_redactor, table)

    def protect(self, table, rows, subject_ids, now: datetime, encryption: bool) -> Future:
        return self._pool.submit(_protect, table, rows, list(subject_ids), now, encryption)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
