"""Hazardous primitives: raw AES-256-GCM and key files. Private on purpose.

Callers outside :mod:`privacy` should use the key store and :mod:`privacy.crypto`, which
choose nonces, bind the associated data and keep keys out of reach. Everything here serves the
encryption of personal data at rest, GDPR Art. 32(1)(a).

Ciphertext layout: ``nonce (12 bytes) || ciphertext || tag (16 bytes)``; ``privacy.crypto`` pads a
column value before it is encrypted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.exceptions import KeyFileError
from privacy.paths import fsync_dir, private_dir

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16


def new_keys(n: int) -> list[bytes]:
    """``n`` independent random 256-bit keys from the OS CSPRNG (one read, then sliced)."""
    pool = os.urandom(KEY_SIZE * n)
    return [pool[i : i + KEY_SIZE] for i in range(0, KEY_SIZE * n, KEY_SIZE)]


def nonce_pool(n: int) -> bytes:
    """Random bytes for ``n`` nonces; one syscall instead of ``n`` keeps bulk encryption fast.

    With random 96-bit nonces the chance of a repeat stays below 2**-32 up to 2**32 messages
    per key (NIST SP 800-38D, 8.3); a data key encrypts a few dozen values in its life.
    """
    return os.urandom(NONCE_SIZE * n)


def seal(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt one value under a fresh random nonce, which travels in front of the ciphertext."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + aead.encrypt(nonce, plaintext, aad)


def unseal(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    """Decrypt one ``seal`` output; raises ``InvalidTag`` on any mismatch."""
    return aead.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)


def fingerprint(key: bytes) -> str:
    """A stable public id for a key; keyed so the id reveals nothing about the key."""
    return "kek-" + hmac.new(key, b"klantkluis key id", hashlib.sha256).hexdigest()[:16]


def decode_key(text: str, origin: str) -> bytes:
    """A base64 (standard or URL-safe) 256-bit key, or a ``KeyFileError`` naming ``origin``."""
    text = text.strip()
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            key = decode(text.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
        if len(key) == KEY_SIZE:
            return key
    raise KeyFileError(f"{origin} must hold a base64-encoded {KEY_SIZE}-byte key")


class Ciphers(Mapping[str, AESGCM]):
    """Subject id -> AESGCM, unwrapped on access so a million subjects cost 60 bytes each.

    An AESGCM object holds an expanded key schedule of about 2 KB: fetch each once per group
    of values rather than once per value.
    """

    def __init__(self, wrapped: dict[str, bytes], master):
        self._wrapped, self._master = wrapped, master

    def __getitem__(self, subject_id: str) -> AESGCM:
        return AESGCM(self._master.unwrap(self._wrapped[subject_id], subject_id.encode()))

    def __contains__(self, subject_id: object) -> bool:
        return subject_id in self._wrapped

    def keys(self):
        # The dict's own view keeps set operations over a million ids in C.
        return self._wrapped.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self._wrapped)

    def __len__(self) -> int:
        return len(self._wrapped)


def load_or_create_key_file(path: Path) -> bytes:
    """Read a raw 32-byte key file, creating it (mode 0600) with a random key if absent."""
    path = Path(path)
    if not path.exists():
        _create_key_file(path)
    return read_key_file(path)


def read_key_file(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        # fstat on the open descriptor: the mode checked is the mode of the bytes we read.
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"key file {path} has mode {mode:04o}: group or others can read it; "
                f"refusing to use it. Restrict it with `chmod 600 {path}` (and consider the key "
                "compromised if others may have read it)"
            )
        key = os.read(fd, KEY_SIZE + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_SIZE:
        raise KeyFileError(f"key file {path} must hold exactly {KEY_SIZE} raw bytes")
    return key


def _create_key_file(path: Path) -> None:
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, os.urandom(KEY_SIZE))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() publishes the complete file atomically and refuses to overwrite, so two
        # processes starting at once agree on one key instead of each keeping its own.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)  # data may be wrapped under this key next: its name must outlive a power cut
