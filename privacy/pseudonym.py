"""Pseudonymous subject ids and blind indexes: keyed HMAC-SHA256, never plain hashes.

A plain hash of a customer number can be reversed by hashing every possible number; an HMAC
under a secret key cannot. The pseudonymisation key is separate from the master key so that
encrypted values and pseudonyms can be governed (and, if needed, replaced) independently.
Serves GDPR Art. 4(5) (pseudonymisation), Art. 25(1) and Art. 32(1)(a).

The key must stay the same for the life of the warehouse: a new key gives every subject a new id.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterable, Mapping

from privacy import _keys, keybinding
from privacy.exceptions import KeyFileError
from privacy.masterkey import MASTER_KEY_VAR
from privacy.paths import key_dir, keystore_path

PSEUDONYM_KEY_VAR = "KLANTKLUIS_PSEUDONYM_KEY"
PSEUDONYM_KEY_FILE = "pseudonym.key"
SUBJECT_KINDS = ("customer", "lead")
_BLOCK = 64
_HEX_DIGITS = str.maketrans("", "", "0123456789abcdef")


class Pseudonymiser:
    """Keyed pseudonyms for data subjects (Art. 4(5)) and a blind index for e-mail look-ups."""

    def __init__(self, key: bytes):
        if len(key) < _keys.KEY_SIZE:
            raise ValueError(f"the pseudonymisation key must be at least {_keys.KEY_SIZE} bytes")
        self.key_id = _keys.fingerprint(key)
        # HMAC (RFC 2104) split into its two keyed SHA-256 states, computed once: each value
        # then costs two state copies instead of a fresh key schedule.
        block = (hashlib.sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def subject_id(self, kind: str, natural_key: str) -> str:
        """The pseudonymous id of one subject: hex HMAC-SHA256 of ``"{kind}:{natural_key}"``."""
        return self.subject_ids(kind, [natural_key])[0]

    def subject_ids(self, kind: str, natural_keys: Iterable[str | None]) -> list[str | None]:
        """Pseudonymise many natural keys (surrounding blanks ignored); ``None`` stays ``None``."""
        if kind not in SUBJECT_KINDS:
            raise ValueError(f"unknown subject kind {kind!r}; expected one of {SUBJECT_KINDS}")
        return self._hmacs(f"{kind}:".encode(), (None if k is None else k.strip() for k in natural_keys))

    def lookup_hmac(self, email: str | None) -> str | None:
        """Blind index of an e-mail address, to find a requester's records without decrypting
        every address (Art. 12(6), 15); the address is lower-cased and stripped first."""
        return self.lookup_hmacs([email])[0]

    def lookup_hmacs(self, emails: Iterable[str | None]) -> list[str | None]:
        """``lookup_hmac`` for many addresses."""
        return self._hmacs(b"email:", (None if e is None else e.strip().lower() for e in emails))

    def _hmacs(self, prefix: bytes, values: Iterable[str | None]) -> list[str | None]:
        inner = self._inner.copy()
        inner.update(prefix)
        outer = self._outer
        # Fact tables repeat subjects many times over: each distinct key is hashed once.
        done: dict[str, str] = {}
        out: list[str | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            digest = done.get(value)
            if digest is None:
                h, o = inner.copy(), outer.copy()
                h.update(value.encode())
                o.update(h.digest())
                digest = done[value] = o.hexdigest()
            out.append(digest)
        return out

    def __repr__(self) -> str:
        return f"Pseudonymiser(key_id={self.key_id!r})"


def pseudonymiser_from_env(environ: Mapping[str, str] | None = None) -> Pseudonymiser:
    """The configured pseudonymiser (Art. 4(5), 32): ``$KLANTKLUIS_PSEUDONYM_KEY`` (base64) if
    set, else the file ``$KLANTKLUIS_KEY_DIR/pseudonym.key`` (created with mode 0600)."""
    env = os.environ if environ is None else environ
    if env.get(PSEUDONYM_KEY_VAR):
        if env[PSEUDONYM_KEY_VAR].strip() == env.get(MASTER_KEY_VAR, "").strip():
            raise KeyFileError(f"{PSEUDONYM_KEY_VAR} must differ from {MASTER_KEY_VAR}")
        pseudonymiser = Pseudonymiser(_keys.decode_key(env[PSEUDONYM_KEY_VAR], f"environment variable {PSEUDONYM_KEY_VAR}"))
    else:
        path = key_dir(env) / PSEUDONYM_KEY_FILE
        if not path.exists():
            # A fresh key would silently give every known subject a new id: stop instead.
            if keystore_path(env).exists():
                raise KeyFileError(f"{path} is missing but a key store exists: restore it from the key "
                                   "backup (a new key would give every subject a new id)")
            keybinding.refuse_new(env, "pseudonym", path)
        pseudonymiser = Pseudonymiser(_keys.load_or_create_key_file(path))
    keybinding.confirm(env, "pseudonym", pseudonymiser.key_id)
    return pseudonymiser


def raw_subject_ids(subject_ids: Iterable[str]) -> list[bytes]:
    """Distinct subject ids as sorted raw bytes. Only pseudonyms (64 lower-case hex digits) pass,
    so a natural key or an e-mail address cannot end up in the key store by mistake (Art. 25(1))."""
    try:
        # Sorting the hex text gives byte order too, and sorts ten times faster than bytes do.
        ids = sorted(set(subject_ids))
    except TypeError:
        ids = [""]
    raw = bytes.fromhex(check_subject_ids(ids))
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


def check_subject_ids(ids: Collection[str]) -> str:
    """The ids joined, or ``ValueError`` if one is not a pseudonym (64 lower-case hex digits): a
    natural key or an e-mail address never reaches the key store (Art. 25(1))."""
    try:
        joined = "".join(ids)
    except TypeError:
        joined = None
    if joined is None or (ids and set(map(len, ids)) != {64}) or joined.translate(_HEX_DIGITS):
        raise ValueError("subject ids must be pseudonyms of 64 lower-case hex digits (see Pseudonymiser.subject_id)")
    return joined
