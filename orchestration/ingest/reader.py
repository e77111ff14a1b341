"""Read one landing file into string columns, keeping every line: parsed or rejected with a reason.

A line that cannot be parsed (bad encoding, NUL byte, unterminated quote, wrong number of
fields, malformed JSON) becomes a `Reject` with its line number, so the writer can quarantine
it and counts reconcile (Art. 5(1)(d): inaccurate data is set aside, not silently dropped).
A file that cannot be read at all raises `LandingFileError` with a message naming the fix.
"""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

# Multi-line quoted CSV fields are joined up to this many physical lines before giving up.
_MAX_RECORD_LINES = 50


class LandingFileError(Exception):
    """A landing file that cannot be read at all; the message says what to fix."""


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    text: str


@dataclass
class FileRead:
    rows: pd.DataFrame  # expected columns as str (None for empty) plus _source_line
    rejects: list[Reject] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def input_rows(self) -> int:
        return len(self.rows) + len(self.rejects)


def _check_header(path: Path, header: list[str], expected: list[str], mapping: dict[str, str],
                  optional: frozenset[str] = frozenset()) -> list[str]:
    renamed = [mapping.get(h.strip(), h.strip()) for h in header]
    missing = [c for c in expected if c not in renamed and c not in optional]
    if missing:
        raise LandingFileError(
            f"{path}: missing column(s) {', '.join(missing)}. Expected columns: {', '.join(expected)}. "
            "Fix the export, or map your column names in the source's column mapping (see README, "
            "'Bring your own data').")
    return renamed


def _frame(records: list[list[str | None]], lines: list[int], columns: list[str], expected: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(records, columns=columns, dtype=object).reindex(columns=expected)
    df = df.replace({"": None}).astype(object).where(df.notna(), None)
    df["_source_line"] = lines
    return df


def _read_csv(path: Path, expected: list[str], mapping: dict[str, str], optional: frozenset[str]) -> FileRead:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    physical = raw.split(b"\n")
    if physical and physical[-1] == b"":
        physical.pop()
    if not physical:
        raise LandingFileError(f"{path}: the file is empty; a landing file needs a header row.")
    try:
        header = next(csv.reader([physical[0].decode("utf-8").rstrip("\r")]))
    except UnicodeDecodeError:
        raise LandingFileError(f"{path}: the header is not UTF-8; re-export the file as UTF-8.") from None
    columns = _check_header(path, header, expected, mapping, optional)
    width = len(columns)
    records, lines, rejects = [], [], []
    i = 1
    while i < len(physical):
        line_no, chunk = i + 1, physical[i]  # physical line numbers, the header is line 1
        i += 1
        if not chunk.strip():
            continue
        if b"\x00" in chunk:
            rejects.append(Reject(line_no, "line contains a NUL byte", chunk.decode("utf-8", "replace")))
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            rejects.append(Reject(line_no, "line is not valid UTF-8 (re-export the file as UTF-8)",
                                  chunk.decode("latin-1")))
            continue
        joined = 1
        while text.count('"') % 2 and joined < _MAX_RECORD_LINES and i < len(physical):
            text += "\n" + physical[i].decode("utf-8", "replace")
            i, joined = i + 1, joined + 1
        reason = "unterminated quoted field" if text.count('"') % 2 else None
        fields: list[str] = []
        if reason is None:
            try:
                fields = next(csv.reader([text.rstrip("\r")], strict=True))
            except csv.Error as exc:
                reason = f"malformed CSV ({exc})"
        if reason is None and len(fields) != width:
            reason = f"expected {width} fields, found {len(fields)}"
        if reason is not None:
            if joined > 1:  # the quote did not close a multi-line record: reject this line alone
                text, i = text.split("\n", 1)[0], line_no
            rejects.append(Reject(line_no, reason, text))
            continue
        records.append(fields)
        lines.append(line_no)
    ignored = [c for c in columns if c not in expected]
    return FileRead(_frame(records, lines, columns, expected), rejects, ignored)


def _read_jsonl(path: Path, expected: list[str], mapping: dict[str, str], optional: frozenset[str]) -> FileRead:
    records, lines, rejects, seen = [], [], [], set()
    with path.open("rb") as f:
        for line_no, chunk in enumerate(f, start=1):
            if not chunk.strip():
                continue
            try:
                obj = json.loads(chunk.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
            except (UnicodeDecodeError, ValueError) as exc:
                reason = "line is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "malformed JSON line"
                rejects.append(Reject(line_no, reason, chunk.decode("utf-8", "replace").rstrip("\n")))
                continue
            obj = {mapping.get(k, k): v for k, v in obj.items()}
            seen.update(obj)
            records.append([None if obj.get(c) is None else str(obj[c]) for c in expected])
            lines.append(line_no)
    if records:
        _check_header(path, sorted(seen), expected, {}, optional)
    return FileRead(_frame(records, lines, expected, expected), rejects, sorted(seen - set(expected)))


def _read_parquet(path: Path, expected: list[str], mapping: dict[str, str], optional: frozenset[str]) -> FileRead:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise LandingFileError(f"{path}: not a readable Parquet file ({type(exc).__name__}); re-export it.") from None
    columns = _check_header(path, table.column_names, expected, mapping, optional)
    df = table.rename_columns(columns).select([c for c in expected if c in columns]).to_pandas()
    df = df.reindex(columns=expected).astype(object)
    df = df.where(df.notna(), None).map(lambda v: v if v is None else str(v)).replace({"": None})
    df["_source_line"] = range(1, len(df) + 1)
    return FileRead(df, [], [c for c in columns if c not in expected])


READERS = {".csv": _read_csv, ".jsonl": _read_jsonl, ".parquet": _read_parquet}


def read_landing_file(path: Path, expected: list[str], mapping: dict[str, str] | None = None,
                      optional: frozenset[str] = frozenset()) -> FileRead:
    """Read `path` (CSV, JSON Lines or Parquet) into the `expected` columns, renamed by `mapping`;
    `optional` columns may be absent from the file and then read as null."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise LandingFileError(f"{path}: unsupported file type; use .csv, .jsonl or .parquet.")
    if not path.is_file():
        raise LandingFileError(f"{path}: file not found; check the landing folder setting.")
    return reader(path, expected, mapping or {}, frozenset(optional))
