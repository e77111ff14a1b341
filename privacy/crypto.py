"""Encrypt and decrypt column values under each data subject's own key (AES-256-GCM).

Every value gets a fresh random nonce and is bound to ``subject_id|table|column`` as associated
data, so a ciphertext copied to another subject, table or column fails to decrypt instead of
leaking. Each value is padded to a multiple of ``BLOCK`` bytes before encryption (ISO/IEC 7816-4:
0x80, then zeros), so its ciphertext's length tells only a range, not the length of a name or an
address: lengths alone, beside a few plain columns, would single out most customers (Art. 32(1),
4(5)). Padded values carry ``PADDED`` at the end of their associated data; a value written
before padding (without it) still decrypts. Values are grouped by subject so each key is unwrapped
once per call, not once per value. Serves GDPR Art. 32(1)(a) (encryption), Art. 17 (erasure by key shredding) and, through
the audit entry on every decryption, Art. 5(2) (accountability).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from cryptography.exceptions import InvalidTag

from privacy._keys import NONCE_SIZE, TAG_SIZE, nonce_pool
from privacy.audit import AuditLog
from privacy.exceptions import InvalidCiphertext, KeyShredded, MissingKey
from privacy.keystore import KeyStore

BLOCK = 16  # bytes: a padded value's length is a multiple of it
PADDED = b"|padded"  # the associated data's tail of a padded value (none before padding came in)
_PADDING = tuple(b"\x80" + b"\0" * (BLOCK - 1 - r) for r in range(BLOCK))  # by len(value) % BLOCK
# A padded value's ciphertext (nonce, BLOCK * k bytes, tag) has this length modulo BLOCK; one of another
# length was written before padding came in (one of this length may be too, and then tells no more).
PADDED_REMAINDER = (NONCE_SIZE + TAG_SIZE) % BLOCK


def encrypt_values(values: Sequence[str | None], subject_ids: Sequence[str | None],
                   table: str, column: str, keystore: KeyStore) -> list[bytes | None]:
    """Encrypt one column (Art. 32(1)(a)); ``None`` stays ``None``. Keys must already exist."""
    return encrypt_columns({column: values}, subject_ids, table, keystore)[column]


def decrypt_values(blobs: Sequence[bytes | None], subject_ids: Sequence[str | None], table: str,
                   column: str, keystore: KeyStore, *, purpose: str, audit: AuditLog | None = None,
                   actor: str = "system", now: datetime | None = None,
                   on_shredded: str = "raise") -> list[str | None]:
    """Decrypt one column for a stated ``purpose`` (Art. 5(1)(b)); see ``decrypt_columns``."""
    return decrypt_columns({column: blobs}, subject_ids, table, keystore, purpose=purpose, audit=audit,
                           actor=actor, now=now, on_shredded=on_shredded)[column]


def encrypt_columns(columns: Mapping[str, Sequence[str | None]], subject_ids: Sequence[str | None],
                    table: str, keystore: KeyStore, *, create_keys: bool = False) -> dict[str, list[bytes | None]]:
    """Encrypt several columns of one table row-aligned with ``subject_ids`` (Art. 32(1)(a)).

    Raises ``MissingKey`` for a subject without a key (unless ``create_keys``, which makes them
    as ``KeyStore.ensure`` does) and ``KeyShredded`` for an erased one.
    """
    cols, groups, aads = _prepare(columns, subject_ids, table)
    ciphers = _ciphers(keystore, groups, cols, allow_shredded=False, create=create_keys)
    pool, p = nonce_pool(sum(len(v) - v.count(None) for v in cols.values())), 0
    out = {name: [None] * len(subject_ids) for name in cols}
    live = ciphers.keys()
    for sid, rows in groups.items():
        if sid not in live:
            continue
        encrypt, head = ciphers[sid].encrypt, sid.encode()
        for name, values in cols.items():
            aad, dst = head + aads[name] + PADDED, out[name]
            for i in rows:
                if (value := values[i]) is not None:
                    nonce, p = pool[p : p + NONCE_SIZE], p + NONCE_SIZE
                    plain = value.encode()
                    dst[i] = nonce + encrypt(nonce, plain + _PADDING[len(plain) % BLOCK], aad)
    return out


def decrypt_columns(columns: Mapping[str, Sequence[bytes | None]], subject_ids: Sequence[str | None],
                    table: str, keystore: KeyStore, *, purpose: str, audit: AuditLog | None = None,
                    actor: str = "system", now: datetime | None = None,
                    on_shredded: str = "raise") -> dict[str, list[str | None]]:
    """Decrypt several columns for a stated ``purpose`` (Art. 5(1)(b), 15, 20).

    Writes one audit entry (count, table, columns, purpose; never values) if ``audit`` is given
    (Art. 5(2)). Values of erased subjects raise ``KeyShredded``, or come back as ``None`` with
    ``on_shredded="none"``. A value moved to another subject, table or column, or altered,
    raises ``InvalidCiphertext``.
    """
    if not purpose:
        raise ValueError("state the purpose of the decryption (Art. 5(1)(b))")
    if on_shredded not in ("raise", "none"):
        raise ValueError("on_shredded must be 'raise' or 'none'")
    cols, groups, aads = _prepare(columns, subject_ids, table)
    ciphers = _ciphers(keystore, groups, cols, allow_shredded=on_shredded == "none")
    out = {name: [None] * len(subject_ids) for name in cols}
    count, subjects = 0, set()
    live = ciphers.keys()
    for sid, rows in groups.items():
        if sid not in live:
            continue
        decrypt, head = ciphers[sid].decrypt, sid.encode()
        for name, blobs in cols.items():
            aad, dst = head + aads[name], out[name]
            padded = aad + PADDED
            for i in rows:
                if (blob := blobs[i]) is not None:
                    nonce, sealed = blob[:NONCE_SIZE], blob[NONCE_SIZE:]
                    try:
                        plain = decrypt(nonce, sealed, padded)
                        dst[i] = plain[:plain.rindex(b"\x80")].decode()
                    except InvalidTag:
                        try:  # written before padding came in
                            dst[i] = decrypt(nonce, sealed, aad).decode()
                        except InvalidTag:
                            raise InvalidCiphertext(f"{table}.{name} row {i} (subject {sid}) failed authentication: "
                                                    "wrong subject/table/column or tampered") from None
                    count += 1
                    subjects.add(sid)
    if audit is not None:
        one = {"subject_id": next(iter(subjects))} if len(subjects) == 1 else {}
        audit.append("decrypt", actor=actor, now=now, table=table, columns=list(cols), purpose=purpose,
                     count=count, subjects=len(subjects), **one)
    return out


def _prepare(columns, subject_ids, table):
    subject_ids = list(subject_ids)
    cols = {name: list(values) for name, values in columns.items()}
    aads = {name: _aad_tail(table, name) for name in cols}
    groups: dict[str, list[int]] = {}
    for i, sid in enumerate(subject_ids):
        groups.setdefault(sid, []).append(i)
    orphans = groups.pop(None, [])
    for name, values in cols.items():
        if len(values) != len(subject_ids):
            raise ValueError(f"{table}.{name}: {len(values)} values for {len(subject_ids)} subject ids")
        if any(values[i] is not None for i in orphans):
            raise ValueError(f"{table}.{name}: a value without a subject id cannot be encrypted")
    return cols, groups, aads


def _aad_tail(table: str, column: str) -> bytes:
    # '|' separates the parts of the associated data, so it may not occur inside them.
    if not table or not column or "|" in table + column:
        raise ValueError(f"invalid table/column name for associated data: {table!r}.{column!r}")
    return f"|{table}|{column}".encode()


def _ciphers(keystore: KeyStore, groups, cols, *, allow_shredded: bool, create: bool = False):
    ciphers = keystore.ciphers(groups, create=True) if create else keystore.ciphers(groups)
    # Only subjects that actually have a value need a key; checked for the few without one.
    missing = [s for s in groups.keys() - ciphers.keys()
               if any(v[i] is not None for v in cols.values() for i in groups[s])]
    if missing:
        shredded = keystore.shredded(missing)
        if len(shredded) < len(missing):
            raise MissingKey(f"no data key for {len(missing) - len(shredded)} subject(s); "
                             "call KeyStore.ensure first")
        if not allow_shredded:
            raise KeyShredded(shredded)
    return ciphers
