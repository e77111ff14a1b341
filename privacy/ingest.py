"""Turn a landing DataFrame into the protected raw-layer rows: the one choke point of ingest.

Each declared column is derived from the landing data by its ``meta.ingest`` transform, so that
no direct identifier reaches the warehouse in the clear (GDPR Art. 25(1), 32(1)(a)) and analysis
columns are generalised or pseudonymised (Art. 5(1)(c), 4(5)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privacy.crypto import encrypt_columns
from privacy.keystore import KeyStore
from privacy.pseudonym import Pseudonymiser
from privacy.tables import BOOKKEEPING, Table

Redactor = Callable[[list[str]], list[str]]
_BANDS = {d: f"{10 * d}-{10 * d + 9}" for d in range(13)}
_POSTCODE = r"^\s*([1-9][0-9]{3})\s*(?:[A-Za-z]{2})?\s*$"


def protect(table: Table, df: pd.DataFrame, *, keystore: KeyStore, pseudonymiser: Pseudonymiser,
            redactor: Redactor | None = None, now: datetime | date) -> pd.DataFrame:
    """Apply every column's ingest transform to landing rows (Art. 4(5), 5(1)(c), 25, 32).

    ``df`` holds the landing columns as strings; empty strings and NaN become null. The result
    has the table's declared columns (without the load columns the writer adds), keeps the
    index of ``df``, and holds encrypted values as ``bytes``. Rows of erased subjects raise
    ``KeyShredded``: drop them first (the writer suppresses them, Art. 17).
    """
    columns = _checked_columns(table, df.columns, redactor)
    landing = {name: pa.array(_strings(df[name]), pa.string()) for name in _needed(table, columns)}
    out = _transform(table, columns, landing, len(df), None, keystore=keystore, pseudonymiser=pseudonymiser,
                     redactor=redactor, now=now, encryption=True)
    return pd.DataFrame({name: _objects(values.to_pylist()) for name, values in out.items()}, index=df.index,
                        copy=False)


def protect_table(table: Table, rows: pa.Table, *, keystore: KeyStore, pseudonymiser: Pseudonymiser,
                  redactor: Redactor | None = None, now: datetime | date, subject_ids: Sequence[str] | None = None,
                  encryption: bool = True) -> pa.Table:
    """:func:`protect` for landing rows held as an Arrow table of strings (null for missing); the
    columns kept as they are never leave Arrow. ``subject_ids``: the pseudonyms of the rows'
    subject keys if the caller has them already (the writer derives them once per file).

    ``encryption=False`` exists for the benchmark only (ingest time without encryption): the
    columns to encrypt come back null and no keys are made, so nothing leaves in the clear."""
    columns = _checked_columns(table, rows.column_names, redactor)
    landing = {}
    for name in _needed(table, columns):
        values = rows[name]
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        landing[name] = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values.cast(pa.string()))
    out = _transform(table, columns, landing, rows.num_rows, subject_ids, keystore=keystore,
                     pseudonymiser=pseudonymiser, redactor=redactor, now=now, encryption=encryption)
    return pa.Table.from_arrays(list(out.values()), names=list(out))


def _checked_columns(table: Table, present, redactor) -> list:
    columns = [c for c in table.columns if c.name not in BOOKKEEPING]
    clear = [c.name for c in columns if c.category == "direct_identifier" and c.transform != "encrypt"]
    if clear:
        raise ValueError(f"{table.name}: direct identifiers {clear} would be stored in the clear; "
                         "declare them with meta.ingest.transform: encrypt")
    if redactor is None and any(c.transform == "redact" for c in columns):
        raise ValueError(f"{table.name}: a redactor is needed for its redacted free-text columns")
    if missing := sorted(_needed(table, columns) - set(present)):
        raise ValueError(f"{table.name}: the landing data lacks columns {missing}")
    return columns


def _needed(table: Table, columns) -> set[str]:
    return {c.from_column for c in columns} | ({table.subject.key} if table.subject else set())


def _transform(table: Table, columns, landing: dict[str, pa.Array], n: int, subject_ids, *, keystore, pseudonymiser,
               redactor, now, encryption: bool) -> dict[str, pa.Array]:
    """Each declared column from the landing columns (strings, null for missing), as Arrow arrays."""
    if subject_ids is None:
        subject_ids = _subject_ids(table, landing, pseudonymiser)
    else:
        subject_ids = list(subject_ids)
        if len(subject_ids) != n:
            raise ValueError(f"{table.name}: {len(subject_ids)} subject ids for {n} rows")
        if table.subject is not None and (blank := sum(s is None for s in subject_ids)):
            raise ValueError(f"{table.name}: {blank} row(s) without {table.subject.key}; quarantine them first")
    secret = [c for c in columns if c.transform == "encrypt"]
    encrypted = {}
    if secret and not encryption:
        encrypted = {c.name: [None] * n for c in secret}
    elif secret:
        # Keys for new subjects are made in the same pass that fetches the existing ones.
        encrypted = encrypt_columns({c.name: landing[c.from_column].to_pylist() for c in secret}, subject_ids,
                                    table.name, keystore, create_keys=True)
    out = {}
    for c in columns:
        if c.transform == "pseudonymise":
            out[c.name] = pa.array(subject_ids if c.from_column == table.subject.key else
                                   pseudonymiser.subject_ids(table.subject.kind, landing[c.from_column].to_pylist()),
                                   pa.string())
        elif c.transform == "encrypt":
            out[c.name] = pa.array(encrypted[c.name], pa.binary())
        elif c.transform == "redact":
            out[c.name] = pa.array(_redact(redactor, landing[c.from_column].to_pylist()), pa.string())
        elif c.transform == "age_band":
            out[c.name] = _arrow_strings(age_bands(landing[c.from_column].to_pandas(), now=now))
        elif c.transform == "postcode_area":
            codes = landing[c.from_column].to_pandas().astype("string").str.extract(_POSTCODE, expand=False)
            out[c.name] = _arrow_strings(codes)
        elif c.transform == "keep":
            out[c.name] = landing[c.from_column]
        else:
            raise ValueError(f"{table.name}.{c.name}: unknown ingest transform {c.transform!r}")
    return out


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
    keys = landing[table.subject.key].to_pylist()
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


def _arrow_strings(series: pd.Series) -> pa.Array:
    return pa.array(_strings(series), pa.string())


def _strings(series: pd.Series) -> list[str | None]:
    # Landing CSVs cannot tell empty from missing: both become null in the raw layer.
    if series.dtype != object:
        series = series.astype("string")
    values = series.tolist()
    blank = series.isna().to_numpy() | series.eq("").fillna(False).to_numpy(dtype=bool)
    for i in np.flatnonzero(blank):
        values[i] = None
    return values
