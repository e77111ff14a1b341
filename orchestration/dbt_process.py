"""The dbt build's process, recorded so that the next run can end one its run left behind.

dbt runs as a process of its own (dagster-dbt starts it, and takes no option to have it end with
its parent). When the run's process is killed (kill -9, an out-of-memory kill), dbt goes on without
it and holds the warehouse, DuckDB's one writer: the next run was refused, and the orphan wrote marts
no run recorded. Linux only (it reads /proc); elsewhere nothing is recorded or ended.
"""

import contextlib
import os
import signal
import time
from pathlib import Path

from privacy.paths import private_dir

DBT_PROCESS = "dbt.process"  # in <home>/state: "<dbt's pid> <its start time> <its run's pid> <boot id>"


def boot_id() -> str:
    """This boot of the machine (Linux), so a process id from before a restart is not taken for a live one."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "-"


def _stat(pid: int) -> tuple[str, int, str] | None:
    """A process's state letter, parent's id and start time (clock ticks after boot); None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return fields[0], int(fields[1]), fields[19]
    except (OSError, ValueError, IndexError):
        return None


def note_dbt_process(state: Path, pid: int) -> None:
    """Record the build's dbt process, started by this process."""
    if (stat := _stat(pid)) is not None:
        (private_dir(state) / DBT_PROCESS).write_text(f"{pid} {stat[2]} {os.getpid()} {boot_id()}")


def forget_dbt_process(state: Path, pid: int | None = None) -> None:
    """The build of dbt process ``pid`` ended (None: whichever is recorded): its process is no one's
    to end. A record another build wrote since stays, so that build's dbt is still ended if its run is killed."""
    path = state / DBT_PROCESS
    try:
        if pid is None or path.read_text().split()[0] == str(pid):
            path.unlink(missing_ok=True)
    except (OSError, IndexError):
        pass


def end_orphaned_dbt(state: Path, wait_seconds: float = 30) -> int | None:
    """End the recorded dbt build if the run that started it has gone (its parent is another
    process now) and it still runs; returns its id, else None. SIGTERM, then SIGKILL after
    ``wait_seconds``: DuckDB keeps what dbt committed and rolls back the rest, and the run that asks
    builds every model again. Keeps the installation available to its runs, data subjects' requests
    among them (Art. 12(3), 32(1)(b))."""
    try:
        pid, started, parent, boot = (state / DBT_PROCESS).read_text().split()
        pid, parent = int(pid), int(parent)
    except (OSError, ValueError):
        return None
    stat = _stat(pid)
    if boot != boot_id() or stat is None or stat[0] == "Z" or stat[2] != started:
        forget_dbt_process(state)  # ended, or the id is another process's now
        return None
    if stat[1] == parent:  # its run still reads it
        return None
    for sig, wait in ((signal.SIGTERM, wait_seconds), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while (now := _stat(pid)) is not None and now[0] != "Z" and now[2] == started:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            forget_dbt_process(state)
            return pid
    return pid
