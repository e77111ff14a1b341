"""Where the privacy state lives: always outside any warehouse file.

One installation folder (``$KLANTKLUIS_HOME``, default ``<project>/data``) holds the warehouse and
the privacy state (``<home>/state``: audit log, request ledger); the keys live in
``$KLANTKLUIS_KEY_DIR`` (default ``<home>/keys``). Keys and the audit trail sit beside the
warehouse, never inside it, so that a copy of the warehouse (backup, BI extract) holds no key
material (GDPR Art. 32(1)(a)). These are the only defaults: the orchestration's ``Paths`` uses
them too. Environment variables are read when a function is called, not at import, so tests and
orchestration can point them elsewhere.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

HOME_VAR = "KLANTKLUIS_HOME"
KEY_DIR_VAR = "KLANTKLUIS_KEY_DIR"
PROJECT_DIR = Path(__file__).resolve().parent.parent


def home_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The installation folder: ``$KLANTKLUIS_HOME`` or ``<project>/data``."""
    env = os.environ if environ is None else environ
    return Path(env[HOME_VAR]) if env.get(HOME_VAR) else PROJECT_DIR / "data"


def key_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Folder of the key files and key store (Art. 32): ``$KLANTKLUIS_KEY_DIR`` or ``<home>/keys``."""
    env = os.environ if environ is None else environ
    return Path(env[KEY_DIR_VAR]) if env.get(KEY_DIR_VAR) else home_dir(env) / "keys"


def keystore_path(environ: Mapping[str, str] | None = None) -> Path:
    """The per-subject key store (Art. 17, 32): ``keystore.sqlite`` in the key folder."""
    return key_dir(environ) / "keystore.sqlite"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Folder of the audit log (Art. 5(2)) and the request ledger: ``<home>/state``."""
    return home_dir(environ) / "state"


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) with a ``.gitignore`` so its secrets are never committed."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        ignore = path / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# key material and privacy state: never commit\n*\n")
    return path


def fsync_dir(folder: Path) -> None:
    """Make a rename, link or removal in ``folder`` durable (a key file must survive a power cut)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked_file(path: Path, *, shared: bool = False) -> Iterator:
    """``path`` open for appending (created 0600) and locked against other writers; or, ``shared``,
    open for reading while no one writes. A writer may replace the file whole under this lock
    (``write_private``): one that waited meanwhile opens the new file, so nothing is appended to the
    replaced one and no reader takes it for the current one (Art. 5(2), 32(1)(b))."""
    while True:
        flags = os.O_RDONLY if shared else os.O_RDWR | os.O_CREAT | os.O_APPEND
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "rb" if shared else "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                current = False
            if current:
                yield f
                return


def write_private(path: Path, data: bytes | str | Iterable[bytes]) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file beside it (mode 0600,
    synced) renamed over it: a reader finds the old file or the new one, never a mix, and no other
    account can read either (Art. 32(1)(b)). The temporary file goes if the write fails."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    chunks = [data.encode("utf-8")] if isinstance(data, str) else [data] if isinstance(data, bytes) else data
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.writelines(chunks)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def sqlite_problem(what: str, path: Path, exc: Exception) -> str:
    """Why the SQLite file ``path`` (``what``: "key store", "the request ledger") cannot be opened,
    with the fix: SQLite's own message names no file ("unable to open database file")."""
    if "locked" in str(exc):
        return f"{what} {path} is held by another process for more than 30 s: run again once it has ended"
    return (f"{what} {path} cannot be read and written ({exc}): the account that runs klantkluis needs to read and "
            f"write it and its folder {path.parent}, on a volume that is neither read-only nor full")
