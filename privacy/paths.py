"""Where the privacy state lives: always outside any warehouse file.

Keys and the audit trail sit beside the warehouse, never inside it, so that a copy of the
warehouse (backup, BI extract) holds no key material (GDPR Art. 32(1)(a)). Environment variables
are read when a function is called, not at import, so tests and orchestration can point them
elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_DIR_VAR = "KLANTKLUIS_PROJECT_DIR"
KEY_DIR_VAR = "KLANTKLUIS_KEY_DIR"
STATE_DIR_VAR = "KLANTKLUIS_STATE_DIR"


def project_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The project root: ``$KLANTKLUIS_PROJECT_DIR`` or the folder holding the package."""
    env = os.environ if environ is None else environ
    if env.get(PROJECT_DIR_VAR):
        return Path(env[PROJECT_DIR_VAR])
    return Path(__file__).resolve().parent.parent


def key_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Folder of the key files and key store (Art. 32): ``$KLANTKLUIS_KEY_DIR`` or ``<project>/.keys``."""
    env = os.environ if environ is None else environ
    return Path(env[KEY_DIR_VAR]) if env.get(KEY_DIR_VAR) else project_dir(env) / ".keys"


def keystore_path(environ: Mapping[str, str] | None = None) -> Path:
    """The per-subject key store (Art. 17, 32): ``$KLANTKLUIS_KEY_DIR/keystore.sqlite``."""
    return key_dir(environ) / "keystore.sqlite"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Folder of the audit log (Art. 5(2)): ``$KLANTKLUIS_STATE_DIR`` or ``<project>/.state``."""
    env = os.environ if environ is None else environ
    return Path(env[STATE_DIR_VAR]) if env.get(STATE_DIR_VAR) else project_dir(env) / ".state"


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) with a ``.gitignore`` so its secrets are never committed."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        ignore = path / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# key material and privacy state: never commit\n*\n")
    return path
