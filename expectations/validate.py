"""Row-level quarantine from the expectation suites (GDPR Art. 5(1)(d), accuracy).

`validate` runs a source's suite on a landing DataFrame and reports, per input row, every
row-level rule it breaks, so the writer can quarantine exactly those rows with their reasons and
load the rest. Only row positions and rule names leave this module, never the failing values:
GE's own result holds them (unexpected_list) and must not reach Dagster metadata or logs.

GE evaluates each row-level rule on the *distinct values* of the columns the rule reads, not
on every row: a column-map rule's verdict on a row depends only on that row's values in those
columns, so a value that breaks the rule is reported for every row holding it, exactly as a
row-by-row run would report it. Landing files repeat most values (dates, categories, the
customer of an order), so this is a large saving; for columns of distinct values (ids) it costs
one factorisation. GE stays the engine of every rule: the suite in `expectations.suites` is the
one definition; what GE's result counts (element_count, unexpected_percent) is distinct values,
which this module never reads. Distinct values are validated in chunks (GE copies and hashes
each batch). Uniqueness needs the whole file, so it is checked here with pandas instead:
- rows that share an id but differ in any landing column all fail
  "expect_column_values_to_be_unique:<id>" (we cannot tell which copy is right);
- exact copies of an earlier row are collapsed: listed in `collapsed` and left out of the
  checks, so they fail no rule; loading them would double-count, so the writer quarantines them
  as exact duplicates (the first copy loads).
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from expectations import formats as f
from expectations.suites import ID_COLUMNS, SOURCES, build_suite, rule_name
from expectations.uniqueness import duplicate_ids

CHUNK_ROWS = 250_000
_RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


@dataclass(frozen=True)
class ValidationOutcome:
    source: str
    rows: int
    failures: pd.DataFrame  # columns row_index (label in the input frame), rule
    rule_counts: dict[str, int]
    table_failures: list[str]
    collapsed: list = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.failures.empty and not self.table_failures

    @property
    def failed_rows(self) -> int:
        return int(self.failures["row_index"].nunique())


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx

    from great_expectations.execution_engine import pandas_execution_engine

    # GE fingerprints every batch below this many bytes with an MD5 of its hashed contents, for
    # batch metadata we never read; on distinct values of a large file that costs more than some
    # rules. Rules are evaluated as before.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    asset = context.data_sources.add_pandas("landing").add_dataframe_asset("landing_frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def _columns_of(expectation) -> list[str]:
    kwargs = expectation.configuration.kwargs
    return [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]


def prepare(df: pd.DataFrame, columns: set[str], datetime_formats: dict[str, str]) -> pd.DataFrame:
    """The `columns` GE needs: landing text ("" read as missing) plus typed `__num`/`__dt` helpers.

    A `__dt` helper is parsed with the format of its column's parseability rule, so values that
    rule rejects become NaT here and are not reported a second time by the range rule.
    """
    out = {}
    for name in sorted(columns):
        base, _, kind = name.partition("__")
        values = df[base]
        values = values.mask(values.eq(""))
        if kind == "num":
            out[name] = f.parse_numbers(values)
        elif kind == "dt":
            out[name] = f.parse_datetimes(values, datetime_formats[base])
        else:
            out[name] = values
    return pd.DataFrame(out, index=df.index)


def _raised(result) -> bool:
    info = result.exception_info or {}
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _run(suite_name: str, expectations: list, frame: pd.DataFrame) -> list:
    import great_expectations as gx
    from great_expectations.validator.v1_validator import Validator

    # The validator ValidationDefinition.run uses, without its need for persisted suites;
    # Batch.validate would load and fingerprint (hash) every chunk twice.
    suite = gx.ExpectationSuite(name=suite_name, expectations=expectations)
    validator = Validator(batch_definition=_batch_definition(), result_format=_RESULT_FORMAT,
                          batch_parameters={"dataframe": frame})
    return validator.validate_expectation_suite(suite).results


class _Distinct:
    """The distinct combinations of some columns, turned into Python objects one slice at a time
    (the distinct ids of a ten-million-row file would take gigabytes as one frame)."""

    def __init__(self, columns: dict):
        self.columns = columns  # name -> numpy object array, or an Arrow array (a dictionary)
        self.size = len(next(iter(columns.values())))

    def frame(self, start: int, stop: int) -> pd.DataFrame:
        out = {}
        for name, values in self.columns.items():
            if isinstance(values, pa.Array):  # str or None already
                part = values.slice(start, stop - start).to_numpy(zero_copy_only=False)
            else:
                part = values[start:stop]
                part = np.where(pd.isna(part), None, part) if len(part) else part
            out[name] = pd.Series(part, index=pd.RangeIndex(start, start + len(part)), dtype=object)
        return pd.DataFrame(out)


def _encode(column) -> tuple[np.ndarray, object]:
    """(codes 0..k-1 per row, the k distinct values) of one column, missing values included."""
    if isinstance(column, pa.ChunkedArray):
        encoded = pc.dictionary_encode(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0),
                                       null_encoding="encode")
        return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary
    codes, values = pd.factorize(column, use_na_sentinel=False)
    return codes, np.asarray(values, dtype=object)


def _encode_all(df, names: list[str]) -> dict[str, tuple[np.ndarray, object]]:
    """`_encode` of each column; Arrow's kernels release the GIL, so two columns run at once."""
    if not isinstance(df, pa.Table) or len(names) < 2 or df.num_rows < 100_000:
        return {name: _encode(df[name]) for name in names}
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(lambda name: _encode(df[name]), names)))


def _codes(encoded: dict, base: list[str], keep: np.ndarray | None) -> tuple[np.ndarray, _Distinct]:
    """Per row, the number of its distinct combination of the `base` columns (-1 for rows not
    kept), and those combinations (object values, None for missing)."""
    if len(base) == 1:  # codes are already 0..k-1: every distinct value is checked once, lazily
        inverse, values = encoded[base[0]]
        distinct = _Distinct({base[0]: values})
    else:
        codes = None
        for name in base:
            part, values = encoded[name]
            codes = part.astype(np.int64) if codes is None else codes * len(values) + part
        present, inverse = np.unique(codes, return_inverse=True)
        columns, rest = {}, present
        for name in reversed(base):
            values = encoded[name][1]
            values = np.asarray(values.to_pylist(), dtype=object) if isinstance(values, pa.Array) else values
            size = len(values)
            columns[name] = values[rest % size] if size else values[:0]
            rest = rest // size if size else rest
        distinct = _Distinct({name: columns[name] for name in base})
    if keep is not None:  # collapsed copies: their values may be checked, but no row of theirs is hit
        inverse = np.where(keep, inverse, -1)
    return np.asarray(inverse).reshape(-1), distinct


def validate(source: str, df, now: datetime, chunk_rows: int = CHUNK_ROWS) -> ValidationOutcome:
    """Check a landing frame against its source's suite (Art. 5(1)(d)); see the module docstring.

    `df` is a pandas DataFrame or a pyarrow Table holding the landing columns as str or None
    ("" counts as missing); columns whose name starts with "_" (load metadata such as
    _source_line) are ignored. `now` bounds every date; a naive `now` is taken as UTC, like naive
    timestamps in the data. Failures name rows by the labels of `df.index` (for a Table: by
    position).
    """
    is_arrow = isinstance(df, pa.Table)
    index = pd.RangeIndex(df.num_rows) if is_arrow else df.index
    if not index.is_unique:
        raise ValueError("validate needs a unique index: failures refer to rows by index label")
    columns = df.column_names if is_arrow else list(df.columns)
    suite = build_suite(source, now)
    landing = [c for c in columns if not str(c).startswith("_")]
    table, unique, rows, table_failures = [], [], [], []
    for exp in suite.expectations:
        cols = _columns_of(exp)
        if not cols:
            table.append(exp)
        elif any(c.partition("__")[0] not in columns for c in cols):
            table_failures.append(f"{rule_name(exp)} (column missing)")
        else:
            (unique if (exp.meta or {}).get("scope") == "file" else rows).append(exp)
    for result in _run(f"{source}.table", table, pd.DataFrame(columns=landing, dtype=object)):
        if not result.success:
            table_failures.append(rule_name(result.expectation_config))
    groups: dict[tuple[str, ...], list] = {}
    for exp in rows:  # rules that read the same landing columns share one set of distinct values
        groups.setdefault(tuple(sorted({c.partition("__")[0] for c in _columns_of(exp)})), []).append(exp)
    id_column = ID_COLUMNS[source] if unique else None
    encoded = _encode_all(df, sorted({c for base in groups for c in base} | ({id_column} if is_arrow and unique else set())))
    conflicts, collapsed = [], []
    if unique:
        compare = [c for c in SOURCES[source] if c in columns]
        candidates = _repeated_ids(df, compare, index, encoded.get(id_column))
        conflicts, collapsed = duplicate_ids(candidates, id_column, compare)
    parts = [pd.DataFrame({"row_index": conflicts, "rule": rule_name(e)}) for e in unique]
    formats = {e.configuration.kwargs["column"]: e.configuration.kwargs["datetime_format"]
               for e in rows if "datetime_format" in e.configuration.kwargs}
    keep = ~index.isin(pd.Index(collapsed)) if collapsed else None
    labels = index.to_numpy()
    for base, expectations in groups.items():
        codes, distinct = _codes(encoded, list(base), keep)
        needed = {c for exp in expectations for c in _columns_of(exp)}
        bad: dict[str, list[np.ndarray]] = {}
        for start in range(0, distinct.size, chunk_rows):
            frame = prepare(distinct.frame(start, min(start + chunk_rows, distinct.size)), needed, formats)
            for result in _run(f"{source}.rows", expectations, frame):
                rule = rule_name(result.expectation_config)
                if _raised(result):
                    table_failures.append(f"{rule} (error)")
                elif not result.success:
                    bad.setdefault(rule, []).append(np.asarray(result.result.get("unexpected_index_list") or [],
                                                               dtype=np.int64))
        for rule, found in bad.items():
            hit = np.isin(codes, np.concatenate(found))
            parts.append(pd.DataFrame({"row_index": labels[hit], "rule": rule}))
    failures = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"row_index": [], "rule": []})
    failures = failures.sort_values(["row_index", "rule"], kind="stable").reset_index(drop=True)
    counts = failures["rule"].value_counts().sort_index()
    return ValidationOutcome(source=source, rows=len(index), failures=failures,
                             rule_counts={k: int(v) for k, v in counts.items()},
                             table_failures=sorted(set(table_failures)), collapsed=list(collapsed))


def _repeated_ids(df, compare: list[str], index: pd.Index, encoded=None) -> pd.DataFrame:
    """The rows whose id occurs more than once (what `duplicate_ids` compares), with their labels;
    for an Arrow table (with the id column's `_encode`) only those rows are converted to pandas."""
    if not isinstance(df, pa.Table):
        return df
    codes, values = encoded
    counts = np.bincount(codes, minlength=len(values))
    missing = np.flatnonzero(pc.fill_null(pc.equal(values, ""), True).to_numpy(zero_copy_only=False))
    counts[missing] = 0  # "" and null are missing ids: the not-null rule reports them
    where = np.flatnonzero(counts[codes] > 1)
    if not len(where):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in compare})
    small = df.select(compare).take(pa.array(where)).to_pandas()
    small.index = index[where]
    return small.astype(object).where(small.notna(), None)
