"""Row-level quarantine from the expectation suites (GDPR Art. 5(1)(d), accuracy).

`validate` runs a source's suite on a landing DataFrame and reports, per input row, every
row-level rule it breaks, so the writer can quarantine exactly those rows with their reasons and
load the rest. Only row positions and rule names leave this module, never the failing values:
GE's own result holds them (unexpected_list) and must not reach Dagster metadata or logs.

Large files are validated in chunks (GE copies and hashes each batch). Uniqueness needs the
whole file, so it is checked here with pandas instead of per chunk:
- rows that share an id but differ in any landing column all fail
  "expect_column_values_to_be_unique:<id>" (we cannot tell which copy is right);
- exact copies of an earlier row are collapsed: listed in `collapsed`, left out of the checks,
  never quarantined. Loading them would double-count; dropping them loses nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import pandas as pd

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

    @property
    def passed_rows(self) -> int:
        return self.rows - self.failed_rows - len(self.collapsed)


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx

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


def validate(source: str, df: pd.DataFrame, now: datetime, chunk_rows: int = CHUNK_ROWS) -> ValidationOutcome:
    """Check a landing frame against its source's suite (Art. 5(1)(d)); see the module docstring.

    `df` holds the landing columns as str or None ("" counts as missing); columns whose name
    starts with "_" (load metadata such as _source_line) are ignored. `now` bounds every date;
    a naive `now` is taken as UTC, like naive timestamps in the data. Failures name rows by
    the labels of `df.index`.
    """
    if not df.index.is_unique:
        raise ValueError("validate needs a unique index: failures refer to rows by index label")
    suite = build_suite(source, now)
    landing = [c for c in df.columns if not str(c).startswith("_")]
    table, unique, rows, table_failures = [], [], [], []
    for exp in suite.expectations:
        cols = _columns_of(exp)
        if not cols:
            table.append(exp)
        elif any(c.partition("__")[0] not in df.columns for c in cols):
            table_failures.append(f"{rule_name(exp)} (column missing)")
        else:
            (unique if (exp.meta or {}).get("scope") == "file" else rows).append(exp)
    for result in _run(f"{source}.table", table, df[landing].iloc[:0]):
        if not result.success:
            table_failures.append(rule_name(result.expectation_config))
    conflicts, collapsed = [], []
    if unique:
        compare = [c for c in SOURCES[source] if c in df.columns]
        conflicts, collapsed = duplicate_ids(df, ID_COLUMNS[source], compare)
    parts = [pd.DataFrame({"row_index": conflicts, "rule": rule_name(e)}) for e in unique]
    needed = {c for exp in rows for c in _columns_of(exp)}
    formats = {e.configuration.kwargs["column"]: e.configuration.kwargs["datetime_format"]
               for e in rows if "datetime_format" in e.configuration.kwargs}
    skip = pd.Index(collapsed)
    for start in range(0, len(df), chunk_rows):
        chunk = df.iloc[start:start + chunk_rows]
        # Filtered per chunk: dropping from the whole frame would copy all of it at once.
        frame = prepare(chunk[~chunk.index.isin(skip)] if len(skip) else chunk, needed, formats)
        for result in _run(f"{source}.rows", rows, frame):
            rule = rule_name(result.expectation_config)
            if _raised(result):
                table_failures.append(f"{rule} (error)")
            elif not result.success:
                parts.append(pd.DataFrame({"row_index": result.result.get("unexpected_index_list") or [],
                                           "rule": rule}))
    failures = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"row_index": [], "rule": []})
    failures = failures.sort_values(["row_index", "rule"], kind="stable").reset_index(drop=True)
    counts = failures["rule"].value_counts().sort_index()
    return ValidationOutcome(source=source, rows=len(df), failures=failures,
                             rule_counts={k: int(v) for k, v in counts.items()},
                             table_failures=sorted(set(table_failures)), collapsed=list(collapsed))
