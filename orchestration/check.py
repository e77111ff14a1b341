"""`klantkluis check`: whether a source's landing files would load, before a run (Art. 5(1)(d)).

Each file is read as `sources.yml` says and judged by the source's expectation suite, as the
ingest step judges it; nothing is written and no key is touched. Printed per file: rows in, rows
that would load, rows that would be quarantined per rule (counts and line numbers, never values),
whether the ingest gate would pass the file, and, where the values that break a rule have the form
of another CSV dialect, the `csv` setting that reads them (in a Parquet or JSON Lines file, which no
csv setting reads, that the export must write them as numbers or dates; for phone numbers a
spreadsheet took for numbers, that it must keep them as text). Rows of erased subjects, which a run
suppresses, count here as rows that would load.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.ingest.context import rule_failures
from orchestration.ingest.quarantine import MAX_QUARANTINE_SHARE, passes_gate
from orchestration.ingest.reader import (NOT_UTF8, LandingFileError, ReadAs, comma_decimals, day_first_dates,
                                        read_landing_table)
from orchestration.ingest.schema import landing_columns, optional_columns
from orchestration.ingest.landing_zone import unread
from orchestration.ingest.sources import (absent, landing_day, landing_day_name, loaded_before, name_problem,
                                          no_files_message, read_as, source_files)
from orchestration.settings import DBT_PROJECT_DIR, Paths

_LINES_SHOWN = 10


def check(paths: Paths, source: str, files: list[Path] | None = None, now: datetime | None = None) -> int:
    """Print the verdict on each of `files` (default: the source's landing files); 0 when every
    file would pass the ingest gate, 1 otherwise."""
    from expectations.suites import rule_terms
    from privacy.classification import load_classification

    table = next(t for t in load_classification(DBT_PROJECT_DIR).tables if t.name == source)
    how, now = read_as(paths, source), now or datetime.now(timezone.utc)
    if files is None:
        files = source_files(paths, source)
        for note in unread(paths):  # a file in the wrong folder is what a check of the right one misses
            print(f"Elsewhere in the landing zone: {note}")
    if not files:
        print(f"{source} is marked `absent: true` in {paths.mapping}: it has no files to check."
              if absent(paths, source) else no_files_message(paths, source, loaded_before(paths)))
        return 1
    verdicts, hints, terms = [], {}, rule_terms(source, now, how.day_first, how.decimal)
    for path in files:
        if not Path(path).exists():  # a path given by hand: no landing folder setting is at fault
            print(f"{path}: no such file.")
            verdicts.append(False)
            continue
        if problem := name_problem(Path(path)):  # the run refuses it so (assets.ingest)
            print(problem)
            verdicts.append(False)
            continue
        try:
            read = read_landing_table(Path(path), landing_columns(table), how, frozenset(optional_columns(table)))
        except LandingFileError as exc:
            print(f"{Path(path).name}: cannot be read. {exc}")
            verdicts.append(False)
            continue
        failures, table_failures = rule_failures(source, read.rows, now)
        rows_at = failures["row_index"].to_numpy(dtype=np.int64)
        lines = read.rows.column("_source_line").to_numpy()[rows_at]
        quarantined = len(set(rows_at)) + len(read.rejects)
        passes = passes_gate(read.input_rows, quarantined, "\n".join(table_failures) or None, MAX_QUARANTINE_SHARE)
        verdicts.append(passes)
        day, rename = landing_day(Path(path)), landing_day_name(Path(path))
        why = "" if passes else (" (a table-level rule is broken)" if table_failures else
                                 f" (more than {MAX_QUARANTINE_SHARE:.0%} of its rows would be quarantined)")
        print(f"{Path(path).name}: {read.input_rows:,} rows in, {read.input_rows - quarantined:,} would load, "
              f"{quarantined:,} would be quarantined; the ingest gate would {'pass' if passes else 'stop'} it{why}; "
              + (f"landing day {day}" if day else "no landing day (not named YYYY-MM-DD.*): every run takes it"
                 + (f"; rename it {rename}" if rename else "")))
        for rule in table_failures:
            print(f"  table-level rule broken: {rule}")
        at: dict[str, list[int]] = {}
        for rule, line in zip(failures["rule"], lines):
            at.setdefault(rule, []).append(int(line))
        for reject in read.rejects:
            at.setdefault(reject.reason, []).append(reject.line)
        for rule, found in sorted(at.items(), key=lambda item: (-len(item[1]), item[0])):
            shown = ", ".join(map(str, sorted(found)[:_LINES_SHOWN])) + (", ..." if len(found) > _LINES_SHOWN else "")
            asks = f": {terms[rule]}" if rule in terms else ""
            print(f"  {len(found):>10,}  {rule} (line{'s' if len(found) > 1 else ''} {shown}){asks}")
        for setting, found in _hints(source, how if Path(path).suffix.lower() == ".csv" else None, read,
                                     failures).items():
            hints.setdefault(setting, set()).update(found)
        if read.ignored_columns:
            print(f"  Columns not read (not ours, never loaded): {', '.join(read.ignored_columns)}")
    _print_hints(paths, source, how, hints)
    return 0 if all(verdicts) else 1


# Not csv settings: the export itself must write the column otherwise (key -> what to tell)
_AS_TEXT = "as text"
_EXPORT = {_AS_TEXT: "phone numbers without their leading 0 or + (612345678, 31612345678), as a spreadsheet writes "
                     "a cell it took for a number: format the column as text in the spreadsheet and export again",
           "as numbers": "text with a decimal comma (1.234,50) in a Parquet or JSON Lines file, which no `csv` setting "
                         "reads: export the column as numbers (or as text with a decimal point, 1234.50)",
           "as dates": "dates written day first (23-11-2026) in a Parquet or JSON Lines file, which no `csv` setting "
                       "reads: export the column as dates (or as text written YYYY-MM-DD)",
           "as cents": "numbers with more than two decimals in a Parquet or JSON Lines file (a floating-point column: "
                       "binary rounding): round the column to cents in the export, or store it as a decimal with two "
                       "places"}
# A number with more than two decimals: in a floating-point column, most often binary rounding (0.1 + 0.2)
_MANY_DECIMALS = r"^-?\d+\.\d{3,}$"
# A Dutch phone number a spreadsheet took for a number: its leading 0 (or +) dropped
_PHONE_AS_NUMBER = r"^(?:[1-9]\d{8}|31[1-9]\d{8})$"
_WHY = {"decimal": ('","', "numbers with a decimal comma (1.234,50)"),
        "dates": ("day-first", "dates written day first (23-11-2026)"),
        "encoding": ("cp1252", "lines that are not UTF-8: most likely cp1252, an Excel export made on Windows")}


def _hints(source: str, how: ReadAs | None, read, failures: pd.DataFrame) -> dict[str, set[str]]:
    """csv setting (or a key of `_EXPORT`) -> the columns (or, for the encoding, the file) whose
    rule-breaking values have the form that setting reads, where most of them have it. Never a
    value itself. `how` is None for a file that is not CSV: no csv setting reads it."""
    from expectations.formats import AMOUNT
    from expectations.suites import build_suite, typed_columns

    numbers, dates, times = typed_columns(source)
    dates, read_as = dates | times, how or ReadAs()
    amounts = {e.configuration.kwargs["column"] for e in build_suite(source, datetime.now(timezone.utc)).expectations
               if e.configuration.kwargs.get("regex") == AMOUNT}
    hints: dict[str, set[str]] = {}
    for rule in sorted(set(failures["rule"])):
        column = rule.split(":", 1)[-1]
        if column not in read.rows.column_names or not (column in numbers or column in dates or column == "phone"):
            continue
        rows = failures.loc[failures["rule"] == rule, "row_index"].to_numpy(dtype=np.int64)
        values = read.rows.column(column).take(pa.array(rows, pa.int64()))
        if column in numbers and read_as.decimal == "." and _most(values, _read_otherwise(comma_decimals)):
            hints.setdefault("decimal" if how else "as numbers", set()).add(column)
        if (not how and column in amounts
                and _most(values, lambda v: (pc.match_substring_regex(v, _MANY_DECIMALS), v))):
            hints.setdefault("as cents", set()).add(column)
        if column in dates and not read_as.day_first and _most(values, day_first_dates):
            hints.setdefault("dates" if how else "as dates", set()).add(column)
        if column == "phone" and _most(values, lambda v: (pc.match_substring_regex(v, _PHONE_AS_NUMBER), v)):
            hints.setdefault(_AS_TEXT, set()).add(column)
    if how and how.encoding == "utf-8" and sum(r.reason == NOT_UTF8 for r in read.rejects) * 2 > len(read.rejects) > 0:
        hints["encoding"] = {"lines"}
    return hints


def _print_hints(paths: Paths, source: str, how: ReadAs, hints: dict[str, set[str]]) -> None:
    for key, what in _EXPORT.items():
        if columns := hints.pop(key, None):
            print(f"{', '.join(sorted(columns))}: the values that break its rule are mostly {what}.")
    if not hints:
        return
    print(f"The values that break those rules have the form of another CSV dialect; in {paths.mapping}:")
    for setting, found in sorted(hints.items()):
        value, what = _WHY[setting]
        columns = "" if setting == "encoding" else f"{', '.join(sorted(found))}: "
        print(f"  {setting + ': ' + value:<18} {columns}{what}")
    settings = {**_written(how), **{k: _WHY[k][0] for k in sorted(hints)}}
    print(f"  so: `{source}: {{csv: {{{', '.join(f'{k}: {v}' for k, v in settings.items())}}}}}`, then run "
          f"`klantkluis check {source}` again.")


def _written(how: ReadAs) -> dict[str, str]:
    """The source's csv settings other than the defaults, as sources.yml writes them."""
    spelled = {"delimiter": lambda v: "tab" if v == "\t" else f'"{v}"', "decimal": lambda v: f'"{v}"'}
    return {("dates" if k == "day_first" else k): ("day-first" if k == "day_first" else spelled.get(k, str)(v))
            for k, v in how.dialect().items()}


def _read_otherwise(read):
    """`read`, matching only the values it reads as something else than written: a whole number
    (a score of 11) has the form of a decimal-comma number too, but that setting reads it the same,
    so it is no sign of another dialect (Art. 5(1)(d): the hint must name a fix that works)."""
    def changed(values):
        matched, read_as = read(values)
        return pc.and_(matched, pc.not_equal(read_as, values)), read_as
    return changed


def _most(values: pa.Array, read) -> bool:
    """Whether `read` (a step of the reader's dialect: comma_decimals, day_first_dates) reads more
    than half of `values` (those present)."""
    matched, _ = read(pa.chunked_array([values]))
    present = len(values) - values.null_count
    return present > 0 and pc.sum(matched).as_py() * 2 > present


def add_check_command(sub) -> None:
    from expectations.suites import SOURCES

    check_ = sub.add_parser("check", help="whether a source's landing files would load: rows that would load or be "
                                          "quarantined per rule, and the csv settings that would read them (no run)")
    check_.add_argument("source", choices=list(SOURCES), help="the source whose rules judge the files")
    check_.add_argument("files", nargs="*", type=Path,
                        help="files to check (default: the source's landing files, as sources.yml finds them)")
    check_.set_defaults(func=lambda args, paths: check(paths, args.source, args.files or None))

