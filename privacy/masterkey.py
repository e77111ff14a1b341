"""Master keys (key-encryption keys) that wrap the per-subject data keys.

The master key never touches the warehouse: it lives in a 0600 file, an environment variable,
or (behind the same three-member protocol) a cloud KMS or Vault transit engine. Serves GDPR
Art. 32(1)(a) (encryption) and Art. 25(1) (data protection by design).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy import _keys, keybinding
from privacy.exceptions import KeyFileError, WrongMasterKey
from privacy.paths import key_dir, keystore_path

MASTER_KEY_VAR = "KLANTKLUIS_MASTER_KEY"
MASTER_KEY_FILE = "master.key"
ROTATING_FILE = "master.key.new"  # the new key while `klantkluis rotate-master-key` runs


@runtime_checkable
class MasterKey(Protocol):
    """What the key store needs from a key-encryption key (a KMS client can implement this)
    (Art. 32(1)(a))."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, blob: bytes, aad: bytes) -> bytes: ...


class _LocalMasterKey:
    """AES-256-GCM key wrapping with a locally held key."""

    @property
    def _key(self) -> bytes:
        raise NotImplementedError

    @cached_property
    def _aead(self) -> AESGCM:
        return AESGCM(self._key)

    @property
    def key_id(self) -> str:
        """Public fingerprint; the same key gives the same id whether read from a file or the env."""
        return _keys.fingerprint(self._key)

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        """Encrypt a data key, bound to ``aad`` (the subject id), Art. 32(1)(a)."""
        return _keys.seal(self._aead, data_key, aad)

    def wrap_many(self, data_keys: list[bytes], aads: list[bytes]) -> list[bytes]:
        """``wrap`` for a batch (optional in the protocol): one nonce draw, no per-key frames."""
        encrypt, pool, n = self._aead.encrypt, _keys.nonce_pool(len(data_keys)), _keys.NONCE_SIZE
        nonces = [pool[i : i + n] for i in range(0, len(pool), n)]
        return [nonce + encrypt(nonce, key, aad) for nonce, key, aad in zip(nonces, data_keys, aads)]

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """Decrypt a wrapped data key; ``WrongMasterKey`` if this key (or ``aad``) does not fit."""
        try:
            return _keys.unseal(self._aead, blob, aad)
        except InvalidTag:
            raise WrongMasterKey(
                f"master key {self.key_id} cannot unwrap this data key (other master key, "
                "or the wrapped key was moved to another subject)"
            ) from None


class FileMasterKey(_LocalMasterKey):
    """Master key in a raw 32-byte file, created with mode 0600 on first use (Art. 32(1)(a)).

    An existing file that group or others can read is refused rather than silently used.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    @cached_property
    def _key(self) -> bytes:
        return _keys.load_or_create_key_file(self.path)

    def __repr__(self) -> str:
        return f"FileMasterKey({str(self.path)!r})"


class EnvMasterKey(_LocalMasterKey):
    """Master key given base64-encoded in an environment variable (e.g. injected by a vault)."""

    def __init__(self, var: str = MASTER_KEY_VAR, *, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        if not env.get(var):
            raise KeyFileError(f"environment variable {var} is not set")
        self.var = var
        self.__key = _keys.decode_key(env[var], f"environment variable {var}")

    @property
    def _key(self) -> bytes:
        return self.__key

    def __repr__(self) -> str:
        return f"EnvMasterKey({self.var!r})"


def wrap_all(master: MasterKey, data_keys: list[bytes], aads: list[bytes]) -> list[bytes]:
    """Wrap many data keys (Art. 32(1)(a)) through ``wrap_many`` when the master key offers it:
    a KMS client should, since a million round trips would not do."""
    if hasattr(master, "wrap_many"):
        return master.wrap_many(data_keys, aads)
    return [master.wrap(k, a) for k, a in zip(data_keys, aads)]


def master_key_from_env(environ: Mapping[str, str] | None = None) -> MasterKey:
    """The configured master key (Art. 32): ``$KLANTKLUIS_MASTER_KEY`` if set, else the file
    ``master.key`` in the key folder (``privacy.paths.key_dir``: ``$KLANTKLUIS_KEY_DIR`` or ``<home>/keys``)."""
    env = os.environ if environ is None else environ
    if env.get(MASTER_KEY_VAR):
        # Rotated by its owner's KMS procedure, so not bound; the key store refuses a wrong one.
        return EnvMasterKey(MASTER_KEY_VAR, environ=env)
    path = key_dir(env) / MASTER_KEY_FILE
    if not path.exists():
        # A fresh master key cannot unwrap the stored data keys: stop instead of writing one.
        if keystore_path(env).exists():
            raise KeyFileError(f"{path} is missing but a key store exists: restore it from the key backup "
                               f"(or set {MASTER_KEY_VAR}); a new master key could not read the data keys")
        keybinding.refuse_new(env, "master", path)
    master = FileMasterKey(path)
    try:
        keybinding.confirm(env, "master", master.key_id)
    except KeyFileError:
        if unfinished := interrupted_rotation(master, wrapping=keybinding.bound(env, "master")):
            raise KeyFileError(unfinished) from None
        raise
    return master


def interrupted_rotation(master: MasterKey, wrapping: str | None = None) -> str | None:
    """What to do when a rotation stopped after the data keys were rewrapped under the staged
    ``master.key.new`` (whose id is ``wrapping``, if given), before it moved into place; else None."""
    if not isinstance(master, FileMasterKey):
        return None
    staged = master.path.with_name(ROTATING_FILE)
    if staged.exists() and (wrapping is None or FileMasterKey(staged).key_id == wrapping):
        return (f"a master key rotation was interrupted after the data keys were rewrapped: move {staged} to "
                f"{master.path} to finish it (never delete it: it is the only key to the data keys now)")
    return None
