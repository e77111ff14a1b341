"""Turn a landing DataFrame into the protected raw-layer rows: the one choke point of ingest.

Each declared column is derived from the landing data by its ``meta.ingest`` transform, so that
no direct identifier reaches the warehouse in the clear (GDPR Art. 25(1), 32(1)(a)) and analysis
columns are generalised or pseudonymised (Art. 5(1)(c), 4(5)).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd

from privacy.crypto import encrypt_columns
from privacy.keystore import KeyStore
from privacy.pseudonym import Pseudonymiser
from privacy.tables import LOAD_COLUMNS, Table

Redactor = Callable[[list[str]], list[str]]
_BANDS = {d: f"{10 * d}-{10 * d + 9}" for d in range(13)}
_POSTCODE = r"^\s*([1-9][0-9]{3})\s*(?:[A-Za-z]{2})?\s*$"


def protect(table: Table, df: pd.DataFrame, *, keystore: KeyStore, pseudonymiser: Pseudonymiser,
            redactor: Redactor | None = None, now: datetime | date) -> pd.DataFrame:
    """Apply every column's ingest transform to landing rows (Art. 4(5), 5(1)(c), 25, 32).

    ``df`` holds the landing columns as strings; empty strings and NaN become null. The result
    has the table's declared columns (without the load columns the writer adds), keeps the
    index of ``df``, and holds encrypted values as ``bytes``. Rows of erased subjects raise
    ``KeyShredded``: drop them first with :func:`erased_rows`.
    """
    columns = [c for c in table.columns if c.name not in LOAD_COLUMNS]
    clear = [c.name for c in columns if c.category == "direct_identifier" and c.transform != "encrypt"]
    if clear:
        raise ValueError(f"{table.name}: direct identifiers {clear} would be stored in the clear; "
                         "declare them with meta.ingest.transform: encrypt")
    if redactor is None and any(c.transform == "redact" for c in columns):
        raise ValueError(f"{table.name}: a redactor is needed for its redacted free-text columns")
    needed = {c.from_column for c in columns} | ({table.subject.key} if table.subject else set())
    if missing := sorted(needed - set(df.columns)):
        raise ValueError(f"{table.name}: the landing data lacks columns {missing}")
    landing = {name: _strings(df[name]) for name in needed}
    subject_ids = _subject_ids(table, landing, pseudonymiser)
    secret = [c for c in columns if c.transform == "encrypt"]
    encrypted = {}
    if secret:
        # Keys for new subjects are made in the same pass that fetches the existing ones.
        encrypted = encrypt_columns({c.name: landing[c.from_column] for c in secret}, subject_ids,
                                    table.name, keystore, create_keys=True)
    out = {}
    for c in columns:
        if c.transform == "pseudonymise":
            out[c.name] = (subject_ids if c.from_column == table.subject.key
                           else pseudonymiser.subject_ids(table.subject.kind, landing[c.from_column]))
        elif c.transform == "encrypt":
            out[c.name] = encrypted[c.name]
        elif c.transform == "redact":
            out[c.name] = _redact(redactor, landing[c.from_column])
        elif c.transform == "age_band":
            out[c.name] = _strings(age_bands(df[c.from_column], now=now))
        elif c.transform == "postcode_area":
            out[c.name] = _strings(df[c.from_column].astype("string").str.extract(_POSTCODE, expand=False))
        elif c.transform == "keep":
            out[c.name] = landing[c.from_column]
        else:
            raise ValueError(f"{table.name}.{c.name}: unknown ingest transform {c.transform!r}")
    return pd.DataFrame({name: _objects(values) for name, values in out.items()}, index=df.index, copy=False)


def erased_rows(table: Table, df: pd.DataFrame, *, keystore: KeyStore,
                pseudonymiser: Pseudonymiser) -> pd.Series:
    """Which landing rows belong to subjects erased earlier (Art. 17): never load them again."""
    if table.subject is None:
        return pd.Series(False, index=df.index)
    ids = pseudonymiser.subject_ids(table.subject.kind, _strings(df[table.subject.key]))
    gone = keystore.shredded({i for i in ids if i is not None})
    return pd.Series([i in gone for i in ids], index=df.index, dtype=bool)


def age_bands(birth_dates: pd.Series, *, now: datetime | date) -> pd.Series:
    """Ten-year age band ("30-39") at ``now`` from ISO dates; null when unparsable (Art. 5(1)(c))."""
    today = now.date() if isinstance(now, datetime) else now
    born = pd.to_datetime(birth_dates, format="%Y-%m-%d", errors="coerce")
    before_birthday = (born.dt.month > today.month) | ((born.dt.month == today.month) & (born.dt.day > today.day))
    age = today.year - born.dt.year - before_birthday.astype(int)
    return (age // 10).where(age.between(0, 129)).map(_BANDS)


def _subject_ids(table: Table, landing: dict, pseudonymiser: Pseudonymiser) -> list[str] | None:
    if table.subject is None:
        if any(c.transform in ("pseudonymise", "encrypt") for c in table.columns):
            raise ValueError(f"{table.name}: pseudonymised or encrypted columns need meta.subject")
        return None
    keys = landing[table.subject.key]
    if blank := sum(k is None for k in keys):
        raise ValueError(f"{table.name}: {blank} row(s) without {table.subject.key}; quarantine them first")
    return pseudonymiser.subject_ids(table.subject.kind, keys)


def _redact(redactor: Redactor, texts: list[str | None]) -> list[str | None]:
    at = [i for i, t in enumerate(texts) if t is not None]
    done = list(redactor([texts[i] for i in at]))
    if len(done) != len(at):
        raise ValueError(f"the redactor returned {len(done)} texts for {len(at)}")
    out: list[str | None] = [None] * len(texts)
    for i, text in zip(at, done):
        out[i] = text
    return out


def _objects(values: list) -> np.ndarray:
    # Filling a ready object array skips pandas' per-element type inference on a million rows.
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _strings(series: pd.Series) -> list[str | None]:
    # Landing CSVs cannot tell empty from missing: both become null in the raw layer.
    if series.dtype != object:
        series = series.astype("string")
    values = series.tolist()
    blank = series.isna().to_numpy() | series.eq("").fillna(False).to_numpy(dtype=bool)
    for i in np.flatnonzero(blank):
        values[i] = None
    return values
