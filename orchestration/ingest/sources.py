"""Where each source's files are, and how the user's column names map to ours ("bring your own data").

`<KLANTKLUIS_HOME>/sources.yml` (optional) overrides the demo landing folder per source:

    orders:
      files: /exports/shop/orders_*.parquet   # a glob; relative paths are relative to the home folder
      columns:                                # our column: your column
        customer_id: CustomerNo
        order_date: Date
      csv:                                    # a CSV export of another dialect (Excel, Dutch settings)
        delimiter: ";"                        # , (default) ; tab |
        encoding: cp1252                      # utf-8 (default) or cp1252
        decimal: ","                          # "." (default) or "," (1.234,50; € 12,50)
        dates: day-first                      # iso (default) or day-first (23-11-2026 9:05)
        time_zone: Europe/Amsterdam           # UTC (default): the clock of times without an offset
    leads:
      absent: true                            # no such export: nothing of it is loaded
"""

import codecs
import contextlib
import os
import re
from datetime import date, datetime
from pathlib import Path

from zoneinfo import available_timezones

import pyarrow as pa
import pyarrow.compute as pc

import yaml

from expectations.suites import SOURCES as LANDING_SOURCES
from expectations.suites import typed_columns
from orchestration.ingest.reader import LandingFileError, ReadAs
from orchestration.ingest.writer import UNLOADED
from orchestration.settings import Paths, WarehouseBusy, connect_duckdb, sql_string
from privacy.rights.package import write_text

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_LAST = re.compile(r"(\d{1,2})[-._ ](\d{1,2})[-._ ](\d{4})")  # 07-12-2026, 7.12.2026
# A CSV dialect's settings: each value as written in sources.yml -> as the reader takes it. Encodings
# are UTF-8 or single-byte ones (read block by block), known by any of their names.
_ENCODINGS = ("utf-8", "cp1252")  # latin-1 would read cp1252's € and curly quotes as control characters
_DIALECT = {"delimiter": {",": ",", ";": ";", "tab": "\t", "\t": "\t", "|": "|"},
            "encoding": {e: codecs.lookup(e).name for e in _ENCODINGS},
            "decimal": {".": ".", ",": ","}, "dates": {"iso": False, "day-first": True},
            "time_zone": {"UTC": None, "Europe/Amsterdam": "Europe/Amsterdam"}}  # or any IANA zone


def _config(paths: Paths) -> dict:
    if not paths.mapping.is_file():
        return {}
    try:
        config = yaml.safe_load(paths.mapping.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None) or type(exc).__name__
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise LandingFileError(f"{paths.mapping}: not valid YAML{where} ({problem}); fix the file.") from None
    shape = ("`<source>: {files: <glob>, columns: {<our column>: <your column>}, csv: {delimiter: \";\", ...}}` "
             "(or `{absent: true}`) per source")
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise LandingFileError(f"{paths.mapping}: expected {shape}.")
    if unknown := sorted(set(map(str, config)) - set(LANDING_SOURCES)):
        raise LandingFileError(f"{paths.mapping}: unknown source(s) {', '.join(unknown)}; the sources are "
                               f"{', '.join(LANDING_SOURCES)}.")
    for source, entry in config.items():
        wrong = sorted(set(map(str, entry)) - {"files", "columns", "absent", "csv"})
        files, columns, absent = entry.get("files"), entry.get("columns"), entry.get("absent", False)
        if wrong or not isinstance(files, (str, type(None))) or not isinstance(columns, (dict, type(None))) \
                or not isinstance(entry.get("csv"), (dict, type(None))):
            what = (f"unknown key(s) {', '.join(wrong)}" if wrong else
                    "files must be one glob, columns and csv each a mapping")
            raise LandingFileError(f"{paths.mapping}, source {source}: {what}; expected {shape}.")
        if not isinstance(absent, bool):
            raise LandingFileError(f"{paths.mapping}, source {source}: absent is true or false, not {absent!r}.")
        if absent and (files or columns or "csv" in entry):
            raise LandingFileError(f"{paths.mapping}, source {source}: `absent: true` stands alone (no files, "
                                   "columns or csv), for a source you have no export of.")
        for key, value in (entry.get("csv") or {}).items():
            if str(key) not in _DIALECT:
                raise LandingFileError(f"{paths.mapping}, source {source}: unknown csv setting {key}; the settings "
                                       f"are {', '.join(_DIALECT)}.")
            if _dialect_value(key, value) is (False if key == "time_zone" else None):
                quote = (" (write it in quotes: `delimiter: \"|\"`; a bare | or , is YAML syntax)"
                         if key == "delimiter" and value in (None, "") else "")
                known = ", ".join(repr(k) if k != "tab" else "tab" for k in _DIALECT[key] if k != "\t") + (
                    " or another IANA time zone" if key == "time_zone" else "")
                raise LandingFileError(f"{paths.mapping}, source {source}: csv {key} {value!r} is not one this "
                                       f"reader knows; use one of {known}{quote}.")
        if files and any(c in str(Path(files).parent) for c in "*?["):
            # Rows are kept per file name: two files of one name in different folders would replace
            # each other's rows, and 'the later file wins' needs names that sort in export order.
            raise LandingFileError(f"{paths.mapping}, source {source}: files {files!r} has a wildcard in a folder "
                                   "name; wildcards work in the file name only (exports/orders_*.csv): put the "
                                   "source's files in one folder, each with its own name.")
        theirs = [str(v) for v in (columns or {}).values()]
        if twice := sorted({v for v in theirs if theirs.count(v) > 1}):
            raise LandingFileError(f"{paths.mapping}, source {source}: column(s) {', '.join(twice)} of yours mapped "
                                   "to more than one column of ours; map each of your columns once.")
        if unknown := sorted(set(map(str, columns or {})) - set(LANDING_SOURCES[source])):
            raise LandingFileError(f"{paths.mapping}, source {source}: unknown column(s) {', '.join(unknown)} of ours "
                                   f"under columns (`<our column>: <your column>`); ours are "
                                   f"{', '.join(LANDING_SOURCES[source])}.")
    return config


def absent(paths: Paths, source: str) -> bool:
    """Whether sources.yml says this installation has no export of `source` (`absent: true`)."""
    return bool(_config(paths).get(source, {}).get("absent"))


def no_files_message(paths: Paths, source: str, loaded_before: bool) -> str:
    """What to do when `source` has no landing files: the fix depends on where they are looked for,
    and demo data is suggested only where none of the source's files was ever loaded."""
    where = source_location(paths, source)
    if _config(paths).get(source, {}).get("files") and where.is_dir():
        kinds = sorted({p.suffix for p in where.iterdir() if p.is_file() and p.suffix}) or [".csv"]
        return (f"{where} (the `files` of {source} in {paths.mapping}) is a folder: `files` takes a glob of the "
                f"files in it, such as {where / ('*' + kinds[0])}.")
    if _config(paths).get(source, {}).get("files"):
        return (f"No files of {source} match {where} (its `files` in {paths.mapping}): correct the glob, or "
                "place the export there.")
    if paths.mapping.is_file() or loaded_before:
        return (f"No landing files for {source} in {where}: place its export there, set `files` for it in "
                f"{paths.mapping}, or mark it `absent: true` there if you have no such data.")
    return (f"No landing files for {source} in {where}. Run `klantkluis --home {paths.home} demo` for demo data, "
            "or place your export there (see README).")


def source_files(paths: Paths, source: str) -> list[Path]:
    """The source's landing files in name order: every file of `<home>/landing/<source>/`, or of the
    `files` glob in sources.yml, but hidden ones. A file of a type no reader knows is listed too, so
    its load stops with a message naming the types, instead of the file being ignored in silence.
    None for a source marked `absent: true`."""
    if absent(paths, source):
        return []
    where = source_location(paths, source)
    return sorted(p for p in where.parent.glob(where.name) if p.is_file() and not p.name.startswith("."))


def source_location(paths: Paths, source: str) -> Path:
    """Where the source's files are looked for: the `files` glob of sources.yml (relative to the
    home folder), else `<home>/landing/<source>/*`."""
    pattern = _config(paths).get(source, {}).get("files")
    if pattern is None:
        return paths.landing / source / "*"
    pattern = os.path.expanduser(pattern)
    return Path(pattern) if Path(pattern).is_absolute() else paths.home / pattern


def _dialect_value(key: str, value) -> str | bool | None:
    """A csv setting's value as the reader takes it, or None if unknown (an encoding by any of its names)."""
    text = str(value) if key == "delimiter" else str(value).strip()  # a tab is a delimiter, not a space
    if key == "encoding":
        try:
            name = codecs.lookup(text).name
        except LookupError:
            return None
        return name if name in _DIALECT[key].values() else None
    if key == "time_zone":
        if text.upper() == "UTC":
            return None
        if text not in available_timezones() or text == "localtime":  # a zone, not a path (posix/...) nor this machine's clock
            return False
        try:  # the reader converts with Arrow, which reads the system's time zone database
            pc.assume_timezone(pa.array([0], pa.timestamp("s")), timezone=text)
        except pa.ArrowInvalid:
            return False
        return text
    return _DIALECT[key].get(text.lower() if key == "dates" else text)


def read_as(paths: Paths, source: str, typed: bool = True) -> ReadAs:
    """How the source's files are read: the column mapping and CSV dialect of sources.yml. Without
    `typed`, numbers and dates stay as written: for a reader of names, e-mail addresses and ids only
    (knowing the typed columns loads the expectation suites, seconds for a data subject request)."""
    entry = _config(paths).get(source, {})
    columns = {str(theirs): str(ours) for ours, theirs in (entry.get("columns") or {}).items()}
    dialect = {key: _dialect_value(key, value) for key, value in (entry.get("csv") or {}).items()}
    day_first = dialect.pop("dates", False)
    # Typed with the default dialect too: a date cell's midnight is dropped in every CSV file, not
    # only in one whose csv settings were written out (`encoding: utf-8` would change what loads).
    numbers, dates, times = typed_columns(source) if typed else ((), (), ())
    return ReadAs(columns, **dialect, day_first=day_first, numbers=frozenset(numbers), dates=frozenset(dates),
                  times=frozenset(times))


def name_problem(path: Path) -> str | None:
    """Why the landing file at ``path`` cannot be loaded by its name, or None. A name in another
    encoding than UTF-8 (from a Windows share, say) reaches Python as lone surrogates, which no SQL
    parameter takes: it is named, escaped, with the fix (the run and `klantkluis check` alike)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        name = os.fsencode(path.name).decode("ascii", "backslashreplace")
        return (f"{path.parent}/{name}: the file's name is not UTF-8 text (a name written in another "
                "encoding); rename it, with letters, digits, '-', '_' and '.' only, and run again")
    return None


def landing_day(path: Path) -> str | None:
    """The landing day a file is named after (`2026-11-01.csv`), or None for any other name."""
    return path.stem if _DAY.fullmatch(path.stem) else None


def landing_day_name(path: Path) -> str | None:
    """The landing day's name for a file named after a day with the year last (07-12-2026.csv ->
    2026-12-07.csv: day first, unless only month first is a date), or None for any other name."""
    if not (found := _YEAR_LAST.fullmatch(path.stem)):
        return None
    first, second, year = map(int, found.groups())
    for day, month in ((first, second), (second, first)):
        with contextlib.suppress(ValueError):
            return date(year, month, day).isoformat() + path.suffix
    return None


def _loads(paths: Paths, query: str, con=None) -> list[tuple]:
    """`query` on the load ledger raw._batches, through `con` if given (a step's own connection:
    DuckDB opens one file once per process), else read-only; no rows before the first load."""
    if con is None:
        if not paths.warehouse.exists():
            return []
        with connect_duckdb(paths.warehouse, read_only=True) as con:
            return _loads(paths, query, con)
    if not con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                       "and table_name = '_batches'").fetchone()[0]:
        return []
    return con.execute(query).fetchall()


def pending_days(paths: Paths, con=None) -> list[str]:
    """Landing days (date-named files) with a file that has never been loaded, in order; the ledger
    read through `con` if given. Files named otherwise have no day: every run takes them, in name order.

    Also pending: the latest day loaded after the last dbt build that recorded the snapshots
    (`built_through`): its run was stopped or failed between its loads and its build, so the snapshots
    never recorded that day's state; its run again loads nothing and builds."""
    stems = {(source, landing_day(p), p.name) for source in LANDING_SOURCES for p in source_files(paths, source)}
    loaded = set(_loads(paths, "select source, file from raw._batches", con))
    days = {day for source, day, name in stems if day and (source, name) not in loaded}
    if (built := built_through(paths)) is not None:
        # an unload (`klantkluis unload`) is no load of a landing day: the next build records it
        unbuilt = [day for (file,) in _loads(paths, "select file from raw._batches where loaded_at > "
                                                    f"cast({sql_string(built.isoformat())} as timestamptz) "
                                                    f"and sha256 <> {sql_string(UNLOADED)}", con)
                   if (day := landing_day(Path(file)))]
        days |= {max(unbuilt)} if unbuilt else set()
    return sorted(days)


def built_through(paths: Paths) -> datetime | None:
    """The latest load the last completed dbt build of the snapshots read; None before the first
    (or in an installation made before it was recorded: no day is taken for unbuilt then)."""
    try:
        return datetime.fromisoformat(paths.built_through.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None


def record_build(paths: Paths, through: datetime) -> None:
    """Record that a dbt build recorded the snapshots of every load up to ``through``."""
    write_text(paths.built_through, through.isoformat())  # swapped in whole


def last_load(paths: Paths, con=None) -> datetime | None:
    """When the raw layer was last loaded; None before the first load."""
    return (_loads(paths, "select max(loaded_at) from raw._batches", con) or [(None,)])[0][0]


def loaded_before(paths: Paths) -> bool:
    """Whether a file was ever loaded here (a warehouse a run holds counts: it is in use)."""
    try:
        return last_load(paths) is not None
    except WarehouseBusy:
        return True


def going_back_in_time(now: datetime, last: datetime | None, what: str) -> str | None:
    """Why a run at `now` may not load after a load of `what` at `last`, or None: the latest load of
    a file, the order of consent events and the snapshots' history all follow load time, so a run
    that goes back in time would make them inaccurate (Art. 5(1)(d))."""
    if last is None or now >= last:
        return None
    return (f"This run's time {now.isoformat()} is before the last load of {what} at {last.isoformat()}: runs "
            "must move forward in time. Run with --as-of on or after that time, or use a new installation (--home).")
