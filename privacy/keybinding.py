"""An installation's data is bound to the keys it was written with (Art. 32(1)(b), 17).

The first time an installation (``$KLANTKLUIS_HOME``) uses its keys, the ids of its pseudonym key
and of its master key file (public fingerprints, never the keys; a master key from the
environment is rotated by its KMS procedure instead) are written to ``<home>/state/keys.json``.
From then on a key that does not match, or a key file about to be created afresh, is refused:
a wrong ``$KLANTKLUIS_KEY_DIR`` or a lost key folder would otherwise make new keys in silence,
giving every subject a new pseudonym (re-identification by a reload), erasures that find "no
data" while the data stays (Art. 17), and ciphertexts no key opens. Key material is never
written here. Without ``$KLANTKLUIS_HOME`` in the environment (the library used on its own)
nothing is bound.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from privacy.audit import default_audit_path
from privacy.exceptions import KeyFileError
from privacy.paths import HOME_VAR, private_dir, state_dir, write_private

FILE = "keys.json"
_FIX = ("point KLANTKLUIS_KEY_DIR (or the key variables) at this installation's keys, restored from "
        "the key backup if need be")


def _path(env: Mapping[str, str]) -> Path | None:
    return state_dir(env) / FILE if env.get(HOME_VAR) else None


def _recorded(path: Path) -> dict:
    try:
        recorded = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        recorded = None
    if not isinstance(recorded, dict):
        raise KeyFileError(f"{path} is damaged: restore it from the backup of the installation folder, or "
                           "delete it to bind the installation to the keys in use at its next start")
    return recorded


def bound(env: Mapping[str, str], kind: str) -> str | None:
    """The id of the ``kind`` key ("pseudonym" or "master") this installation's data was written
    with, if recorded (Art. 32(1)(b))."""
    path = _path(env)
    return None if path is None else _recorded(path).get(kind)


def refuse_new(env: Mapping[str, str], kind: str, key_file: Path) -> None:
    """Stop before ``key_file`` is created for an installation that has data already: one bound to
    a ``kind`` key, or one with an audit trail from before the binding existed (Art. 17, 32(1)(b))."""
    if (key_id := bound(env, kind)) is not None:
        raise KeyFileError(f"{key_file} is missing, but the data in {env[HOME_VAR]} was written with {kind} "
                           f"key {key_id}: {_FIX}. A new key would not fit the data")
    if env.get(HOME_VAR) and _keys_used(env):
        raise KeyFileError(f"{key_file} is missing, but {env[HOME_VAR]} already holds data written with keys "
                           f"(its audit log records loads or key creation): {_FIX}. A new key would not fit the data")


_USED = (b'"event":"ingest_batch"', b'"event":"keys_created"')  # entries written only while keys were in use


def _keys_used(env: Mapping[str, str]) -> bool:
    """Whether the audit log shows that this installation ever used keys: the sign of data written
    with them, for an installation from before the binding existed."""
    try:
        with open(default_audit_path(env), "rb") as f:
            return any(any(mark in line for mark in _USED) for line in f)
    except FileNotFoundError:
        return False


def confirm(env: Mapping[str, str], kind: str, key_id: str, *, replace: bool = False) -> None:
    """Bind the installation to this ``kind`` key on first use; refuse another one afterwards
    (Art. 32(1)(b)). ``replace`` records a new key on purpose (a master key rotation); the key a
    rotation announced (``rotating``) is taken too, and recorded: the key store, which opens only
    with the key that wraps it, decides whether the rotation got that far."""
    path = _path(env)
    if path is None:
        return
    recorded = _recorded(path)
    if recorded.get(kind) == key_id:
        return
    if kind in recorded and not replace and recorded.get(f"{kind}_rotating") != key_id:
        raise KeyFileError(f"the {kind} key in use ({key_id}) is not the one the data in {env[HOME_VAR]} was "
                           f"written with ({recorded[kind]}): {_FIX}")
    _write(path, {**{k: v for k, v in recorded.items() if k != f"{kind}_rotating"}, kind: key_id})


def rotating(env: Mapping[str, str], kind: str, key_id: str) -> None:
    """Announce a rotation to ``key_id`` before any data key is rewrapped under it, so that after a
    stop at any point the installation takes either key (Art. 32(1)(b), (c))."""
    if (path := _path(env)) is not None:
        _write(path, {**_recorded(path), f"{kind}_rotating": key_id})


def _write(path: Path, recorded: dict) -> None:
    private_dir(path.parent)
    write_private(path, json.dumps(recorded, indent=1, sort_keys=True) + "\n")