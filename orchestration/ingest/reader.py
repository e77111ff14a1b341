"""Read one landing file into string columns, keeping every line: parsed or rejected with a reason.

A line that cannot be parsed (bad encoding, NUL byte, unterminated quote, wrong number of
fields, malformed JSON) becomes a `Reject` with its line number, so the writer can quarantine
it and counts reconcile (Art. 5(1)(d): inaccurate data is set aside, not silently dropped).
A file that cannot be read at all raises `LandingFileError` with a message naming the fix.
"""

import codecs
import csv
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

# Multi-line quoted CSV fields are joined up to this many physical lines before giving up.
_MAX_RECORD_LINES = 50
NOT_UTF8 = "line is not valid UTF-8 (re-export the file as UTF-8)"  # a reject's reason


class LandingFileError(Exception):
    """A landing file that cannot be read at all; the message says what to fix."""


@dataclass(frozen=True)
class ReadAs:
    """How one source's files are read (``sources.yml``, see ``orchestration.ingest.sources``).

    ``columns`` maps the user's column names to ours. A CSV export may be of another dialect, such
    as Excel's with Dutch settings: ``delimiter`` ';', ``encoding`` cp1252, ``decimal`` ',' (and
    a euro sign), dates written day first (23-11-2026 9:05) and times on the local clock
    (``time_zone`` Europe/Amsterdam). Its numbers, dates and times are then read into the form
    the expectations and the warehouse read (12.50; 2026-11-23; 2026-11-23T08:05:00Z), and a date
    column's midnight time is dropped; ``numbers``, ``dates`` and ``times`` name the source's
    columns of each kind. A value of another form stays as written, so the expectations
    quarantine it with its rule (Art. 5(1)(d)).
    """

    columns: dict[str, str] = field(default_factory=dict)  # their column -> our column
    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."
    day_first: bool = False
    time_zone: str | None = None  # the zone of times written without an offset; None: UTC
    numbers: frozenset[str] = frozenset()
    dates: frozenset[str] = frozenset()
    times: frozenset[str] = frozenset()

    def dialect(self) -> dict:
        """The CSV dialect's settings other than the defaults (field -> value)."""
        return {k: getattr(self, k) for k in ("delimiter", "encoding", "decimal", "day_first", "time_zone")
                if getattr(self, k) != getattr(ReadAs, k)}

    def fingerprint(self) -> str:
        """These settings as stable text ('' for the defaults). Part of a file's identity wherever
        a file counts as read (the load ledger, the blind index): the same file read otherwise is
        other data, loaded again."""
        if not (dialect := self.dialect()):
            return json.dumps(self.columns, sort_keys=True) if self.columns else ""
        return json.dumps({"columns": self.columns, "csv": dialect}, sort_keys=True)


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    text: str


def _check_header(path: Path, header: list[str], expected: list[str], mapping: dict[str, str],
                  optional: frozenset[str] = frozenset(), sep: str = ",") -> list[str]:
    renamed = [mapping.get(h.strip(), h.strip()) for h in header]
    if twice := sorted({c for c in renamed if c in expected and renamed.count(c) > 1}):
        if all([h.strip() for h in header].count(c) > 1 for c in twice):  # the export's own header, not the mapping
            raise LandingFileError(f"{path}: the header names column(s) {', '.join(twice)} twice; drop the extra "
                                   "column(s) from the export.")
        raise LandingFileError(f"{path}: column(s) {', '.join(twice)} appear twice once the source's column "
                               "mapping is applied (the file has our name and a column mapped to it, or a column "
                               "twice); drop one from the export or from the mapping.")
    missing = [c for c in expected if c not in renamed and c not in optional]
    if missing:
        # The header's own fields are not quoted: a file without a header row has data there.
        theirs = {ours: t for t, ours in mapping.items()}
        names = [f"{c} (mapped from {theirs[c]!r}, which the header lacks)" if c in theirs else c for c in missing]
        hint = ""
        if len(header) == 1 and (found := [s for s in ";\t|," if s != sep and s in header[0]]):
            other = found[0]
            setting = "tab" if other == "\t" else f'"{other}"'
            hint = (f" The header reads as one column holding {other!r}: give the source's separator in sources.yml "
                    f"(`csv: {{delimiter: {setting}}}`), or export the file with commas as separators." if other != ","
                    else " The header reads as one column holding ',': the file is comma separated, so remove the "
                    "source's delimiter from sources.yml (or export the file with the separator set there).")
        elif near := _near_names([theirs.get(c, c) for c in missing], header):
            hint = (" The header has " + ", ".join(f"{h!r} where {want!r} is looked for" for want, h in near)
                    + ": names are matched exactly, case and spaces included, so write them as in the header"
                    " in the source's column mapping, or rename the column in the export.")
        elif not set(expected) & set(renamed):
            hint = " None of them is in the first line: does the file lack its header row?"
        raise LandingFileError(
            f"{path}: missing column(s) {', '.join(names)}; the header has {len(header)} column(s).{hint} "
            f"Expected columns: {', '.join(c for c in expected if c not in optional)}"
            + (f", and optionally {', '.join(c for c in expected if c in optional)}" if optional else "")
            + ". Fix the export, or map your column names in the "
            "source's column mapping (see README, 'Point it at your own files').")
    return renamed


def _near_names(wanted: list[str], header: list[str]) -> list[tuple[str, str]]:
    """(name looked for, header field) where the two differ only in case, spaces, '_' or '-'.

    Only such a field is shown: it spells a column name, so it is no data even in a file whose
    first line is a row of data.
    """
    def key(name: str) -> str:
        return "".join(ch for ch in name.casefold() if ch not in " _-\t")
    fields = {key(h): h.strip() for h in header}
    return [(want, fields[key(want)]) for want in wanted if key(want) in fields and fields[key(want)] != want]


def _arrow(records: list[list[str | None]], lines: list[int], positions: list[int | None],
           expected: list[str]) -> pa.Table:
    """String columns (null for "" or absent) in `expected` order plus _source_line, from parsed records."""
    columns = list(zip(*records)) if records else [()] * (max((p for p in positions if p is not None), default=-1) + 1)
    arrays = [pa.array([v or None for v in columns[p]] if p is not None else [None] * len(lines), pa.string())
              for p in positions]
    return pa.Table.from_arrays([*arrays, pa.array(lines, pa.int64())], names=[*expected, "_source_line"])


# ---------------------------------------------------------------------------------------------
# CSV: a vectorised fast path for plain lines, the line-by-line parser for everything else.
#
# A line is *plain* when it is valid UTF-8 without NUL bytes, has no carriage return except one
# just before its newline, holds exactly width-1 commas outside quotes, and every quote either
# opens a field (first character of the field) or closes it (last character): no quote inside
# an unquoted field and no doubled quote. On a plain line Python's csv module (strict) and
# pyarrow's CSV parser (newlines_in_values off) give the same fields, and the line-by-line
# parser below would take it as one record without joining, so plain runs are parsed by pyarrow
# and every other line goes through `_LineParser`, which may join it with the lines after it.
# Which path a line takes never changes what is read: the same records, rejects and physical
# line numbers as the line-by-line parser on the whole file.
# ---------------------------------------------------------------------------------------------

_BLOCK_BYTES = 32 << 20
_QUOTE, _COMMA, _NL, _CR = 34, 44, 10, 13


def _plain_lines(block: bytes, width: int, sep: int = _COMMA) -> tuple[np.ndarray, np.ndarray]:
    """(starts, maybe_plain) per physical line of `block` (complete lines; the last may lack its newline).

    False means the line is not plain. True means every quote on it is in place and its comma
    count allows `width` fields; lines whose quoted values hold commas are confirmed by pyarrow
    itself, which refuses a row with another number of fields. `sep` is the separator's byte (a
    comma unless the source's dialect says otherwise; "comma" stands for it throughout).
    """
    arr = np.frombuffer(block, dtype=np.uint8)
    size = len(arr)
    ends = np.flatnonzero(arr == _NL)
    if size and arr[-1] != _NL:
        ends = np.append(ends, size)
    n = len(ends)
    starts = np.empty(n, dtype=np.int64)
    if n:
        starts[0], starts[1:] = 0, ends[:-1] + 1
    plain = np.ones(n, dtype=bool)
    if not n:
        return starts, plain
    bounds = np.append(starts, size)
    commas = np.diff(np.searchsorted(np.flatnonzero(arr == sep), bounds))
    quotes = np.flatnonzero(arr == _QUOTE)
    per_line = np.diff(np.searchsorted(quotes, bounds))
    plain &= (commas == width - 1) | ((commas > width - 1) & (per_line > 0))
    # A line of separators and whitespace only (a spreadsheet's empty row) is blank: the line-by-line
    # parser skips it. Only a line that starts with one of those bytes can be one (rare in data).
    for i in np.flatnonzero(plain & np.isin(arr[np.minimum(starts, size - 1)], _BLANK + [sep])):
        if not _holds_data(block[starts[i]:ends[i]], sep):
            plain[i] = False
    odd = (per_line & 1).astype(bool)
    plain &= ~odd
    if len(quotes):
        # On a plain line quotes alternate: opening (after a comma or the line start), closing
        # (before a comma or the line end). A quote's turn follows from its place in the block,
        # shifted by each line with an odd number of quotes before it (not plain anyway).
        if odd.any():
            turn = (np.arange(len(quotes)) + np.searchsorted(starts[odd], quotes, side="right")) & 1
            opening, closing = quotes[turn == 0], quotes[turn == 1]
        else:
            opening, closing = quotes[0::2], quotes[1::2]
        prev = arr[np.maximum(opening - 1, 0)]
        wrong_open = opening[(opening != 0) & (prev != sep) & (prev != _NL)]
        nxt = arr[np.minimum(closing + 1, size - 1)]
        suspect = (closing != size - 1) & (nxt != sep) & (nxt != _NL)
        if suspect.any():  # a closing quote before "\r\n" (or a final "\r") is in place too
            maybe = closing[suspect]
            crlf = (arr[np.minimum(maybe + 1, size - 1)] == _CR) & (
                (arr[np.minimum(maybe + 2, size - 1)] == _NL) | (maybe + 2 == size))
            wrong_close = maybe[~crlf]
        else:
            wrong_close = closing[:0]
        for wrong in (wrong_open, wrong_close):
            if len(wrong):
                plain[np.searchsorted(ends, wrong)] = False
    if b"\x00" in block:
        plain[np.searchsorted(ends, np.flatnonzero(arr == 0))] = False
    if b"\r" in block and block.count(b"\r") != block.count(b"\r\n") + block.endswith(b"\r"):
        cr = np.flatnonzero(arr == _CR)
        line_of = np.searchsorted(ends, cr)
        plain[line_of[cr + 1 != ends[line_of]]] = False
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        for i in np.flatnonzero(plain):
            try:
                block[starts[i]:ends[i]].decode("utf-8")
            except UnicodeDecodeError:
                plain[i] = False
    return starts, plain


_BLANK = [32, 9, 13, 10, 11, 12]  # the bytes bytes.strip() takes for whitespace


def _holds_data(line: bytes, sep: int) -> bool:
    """Whether a line holds anything but whitespace and separators (else it is blank: skipped)."""
    return bool(line.strip(bytes(_BLANK + [sep])))


class _LineParser:
    """The line-by-line reader: one record (or reject, or skipped blank line) from a physical line.

    A line with an odd number of quotes is joined with the lines after it (a quoted field may
    hold newlines), up to `_MAX_RECORD_LINES` physical lines; if that still does not parse, only
    the first line is rejected and reading resumes at the line after it.
    """

    def __init__(self, width: int, delimiter: str = ",", encoding: str = "utf-8"):
        self.width, self.delimiter = width, delimiter
        self.invalid = (NOT_UTF8 if encoding == "utf-8" else
                        f"line holds a byte that is no character in {encoding} (the file's encoding in sources.yml)")

    def record(self, line_at, i: int, line_no: int):
        """(fields | None, Reject | None, next line index) for the record starting at line `i`."""
        chunk = line_at(i)
        start, i = i, i + 1
        if not _holds_data(chunk, ord(self.delimiter)):
            return None, None, i
        if b"\x00" in chunk:
            return None, Reject(line_no, "line contains a NUL byte", chunk.decode("utf-8", "replace")), i
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            # Kept as text for repair: a transcoded line is UTF-8 but its one undefined byte.
            return None, Reject(line_no, self.invalid, chunk.decode("latin-1" if self.invalid == NOT_UTF8 else
                                                                    "utf-8", "replace")), i
        joined = 1
        while text.count('"') % 2 and joined < _MAX_RECORD_LINES and (more := line_at(i)) is not None:
            text += "\n" + more.decode("utf-8", "replace")
            i, joined = i + 1, joined + 1
        reason = "unterminated quoted field" if text.count('"') % 2 else None
        fields: list[str] = []
        if reason is None:
            try:
                fields = next(csv.reader([text.rstrip("\r")], strict=True, delimiter=self.delimiter))
            except csv.Error as exc:
                reason = f"malformed CSV ({exc})"
        if reason is None and len(fields) != self.width:
            reason = f"expected {self.width} fields, found {len(fields)}"
        if reason is not None:
            if joined > 1:  # the quote did not close a multi-line record: reject this line alone
                text, i = text.split("\n", 1)[0], start + 1
            return None, Reject(line_no, reason, text), i
        return fields, None, i


class _Lines:
    """The physical lines of a file after its header, read block by block.

    `block()` returns the next run of complete lines; lines the line-by-line parser needs beyond
    it (a record joined across the block end) are taken from what follows with `take()`.
    """

    def __init__(self, f, block_bytes: int = _BLOCK_BYTES):
        self.f, self.size, self.rest, self.eof = f, block_bytes, b"", False

    def _fill(self) -> None:
        while not self.eof and (len(self.rest) < self.size or b"\n" not in self.rest):
            data = self.f.read(self.size)
            if not data:
                self.eof = True
            self.rest += data

    def block(self) -> bytes | None:
        self._fill()
        if not self.rest:
            return None
        cut = self.rest.rfind(b"\n")
        if self.eof and cut != len(self.rest) - 1:
            cut = len(self.rest) - 1  # the last line has no newline
        block, self.rest = self.rest[:cut + 1], self.rest[cut + 1:]
        return block

    def take(self) -> bytes | None:
        """The next physical line after the current block (without its newline), or None at the end."""
        self._fill()
        if not self.rest:
            return None
        cut = self.rest.find(b"\n")
        if cut < 0:
            line, self.rest = self.rest, b""
        else:
            line, self.rest = self.rest[:cut], self.rest[cut + 1:]
        return line


def _pyarrow_run(data: memoryview, width: int, positions: list[int | None], expected: list[str],
                 first_line: int, n: int, delimiter: str = ",") -> pa.Table | None:
    names = [f"f{k}" for k in range(width)]
    wanted = sorted({p for p in positions if p is not None})
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
                                             newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={names[k]: pa.string() for k in wanted},
                                                 include_columns=[names[k] for k in wanted], null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True,
                                                 check_utf8=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if table.num_rows != n:
        return None
    arrays = [table.column(names[p]) if p is not None else pa.nulls(n, pa.string()) for p in positions]
    lines = pa.array(np.arange(first_line, first_line + n, dtype=np.int64))
    return pa.Table.from_arrays([*arrays, lines], names=[*expected, "_source_line"])


class _Transcoded:
    """A file in a single-byte encoding read as UTF-8. A byte the encoding leaves undefined stays as
    it is, so the line holding it is rejected as not valid, like a bad byte in a UTF-8 file."""

    def __init__(self, f, encoding: str):
        self.f, self.encoding = f, encoding

    def _utf8(self, data: bytes) -> bytes:
        return data.decode(self.encoding, "surrogateescape").encode("utf-8", "surrogateescape")

    def read(self, n: int = -1) -> bytes:
        return self._utf8(self.f.read(n))

    def readline(self) -> bytes:
        return self._utf8(self.f.readline())


def _is_utf8(f, chunk: int = 1 << 20) -> bool:
    """Whether a file given another encoding is UTF-8 all the same: it starts with UTF-8's
    byte-order mark (Excel's "CSV UTF-8"), or the first MiB that is not plain ASCII is valid UTF-8
    (a cp1252 export's accents practically never are). Leaves the file at its start."""
    try:
        if f.read(3) == b"\xef\xbb\xbf":
            return True
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()  # a character may straddle the chunk's end
        while data := f.read(chunk):
            if not data.isascii():
                decoder.decode(data, final=False)
                return True
        return False  # ASCII only: read the same either way
    except UnicodeDecodeError:
        return False
    finally:
        f.seek(0)


def _read_csv_table(path: Path, expected: list[str], read_as: ReadAs, optional: frozenset[str],
                    block_bytes: int = _BLOCK_BYTES) -> "TableRead":
    sep, encoding = read_as.delimiter, read_as.encoding
    with path.open("rb") as raw:
        if encoding != "utf-8" and _is_utf8(raw):
            encoding = "utf-8"  # whatever sources.yml says: read as cp1252, its accents would be garbled
        f = raw if encoding == "utf-8" else _Transcoded(raw, encoding)
        first = f.readline()
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
        if not first:
            raise LandingFileError(f"{path}: the file is empty; a landing file needs a header row.")
        try:
            header = next(csv.reader([first.removesuffix(b"\n").decode("utf-8").rstrip("\r")], delimiter=sep))
        except UnicodeDecodeError:
            if encoding != "utf-8":
                raise LandingFileError(f"{path}: the header holds a byte that is no character in {encoding}, "
                                       "the encoding sources.yml gives this source; correct it there.") from None
            raise LandingFileError(f"{path}: the header is not UTF-8; re-export the file as UTF-8, or give the "
                                   "source's encoding in sources.yml (`csv: {encoding: cp1252}` for an Excel "
                                   "export made on Windows).") from None
        columns = _check_header(path, header, expected, read_as.columns, optional, sep)
        named = [c for c in columns if c]  # a spreadsheet's trailing separators give columns without a name
        if len(set(named)) != len(named):
            raise LandingFileError(f"{path}: the header names a column twice ({', '.join(columns)}); fix the export.")
        width = len(columns)
        positions = [columns.index(c) if c in columns else None for c in expected]
        parser, reader = _LineParser(width, sep, encoding), _Lines(f, block_bytes)
        parts: list[pa.Table] = []
        records, lines, rejects = [], [], []
        line_no = 2  # physical line number of the block's first line; the header is line 1

        def flush():
            if lines:
                parts.append(_arrow(records, lines, positions, expected))
                records.clear()
                lines.clear()

        while (block := reader.block()) is not None:
            starts, plain = _plain_lines(block, width, ord(sep)) if width > 1 else (None, None)
            if starts is None:
                physical = block.split(b"\n")
                if block.endswith(b"\n"):
                    physical.pop()
                starts, plain = None, np.zeros(len(physical), dtype=bool)
            else:
                physical = None
            n = len(plain)
            extra: list[bytes] = []

            def line_at(i, _starts=starts, _physical=physical, _n=n, _extra=extra, _block=block):
                if i < _n:
                    if _physical is not None:
                        return _physical[i]
                    end = _starts[i + 1] - 1 if i + 1 < _n else len(_block) - (1 if _block.endswith(b"\n") else 0)
                    return _block[_starts[i]:end]
                while len(_extra) <= i - _n:
                    more = reader.take()
                    if more is None:
                        return None
                    _extra.append(more)
                return _extra[i - _n]

            bad = np.flatnonzero(~plain)
            i, view = 0, memoryview(block)
            while i < n + len(extra):  # lines taken past the block by a join are read one by one
                if i < n and plain[i]:
                    j = int(bad[np.searchsorted(bad, i)]) if len(bad) and bad[-1] > i else n
                    end = int(starts[j]) if j < n else len(block)
                    table = _pyarrow_run(view[int(starts[i]):end], width, positions, expected, line_no + i, j - i,
                                         sep)
                    if table is not None:
                        flush()
                        parts.append(table)
                        i = j
                        continue
                    # pyarrow refused the run (a quoted comma hid a wrong field count): halve it
                    # until the lines at fault are found; they are read one by one.
                    if j - i <= 8:
                        plain[i:j] = False
                    else:
                        plain[i + (j - i) // 2] = False
                    bad = np.flatnonzero(~plain)
                    if plain[i]:
                        continue
                fields, reject, i_next = parser.record(line_at, i, line_no + i)
                if fields is not None:
                    records.append(fields)
                    lines.append(line_no + i)
                elif reject is not None:
                    rejects.append(reject)
                i = i_next
            line_no += n + len(extra)
        flush()
    table = pa.concat_tables(parts) if parts else _arrow([], [], positions, expected)
    ignored = [c for c in columns if c and c not in expected]
    if unnamed := [str(k + 1) for k, c in enumerate(columns) if not c]:
        ignored.append(f"column(s) {', '.join(unnamed)} without a header name")
    return TableRead(_values_read_as(table, read_as), rejects, ignored, [c for c in expected if c not in columns])


# A euro sign before a number, with a minus before or after it ("€ 12,50", "-€ 12,50", "€ -12,50"),
# or after it ("12,50 €", as Excel with German or French settings writes it)
_EURO = r"^(-?)[\s\x{00A0}]*€[\s\x{00A0}]*|[\s\x{00A0}]*€[\s\x{00A0}]*$"  # a no-break space too
# A date column's value with a time of midnight: 2026-02-01 00:00 or 2026-02-01T00:00:00
_MIDNIGHT = r"^\d{4}-\d{2}-\d{2}[ T]00:00(?::00(?:\.0+)?)?$"
# An ISO time without an offset: 2026-11-23 09:05, 2026-11-23T09:05:00.5
_NAIVE_TIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$"
# A number written with a decimal comma, thousands with dots or not: 1.234,50 / 1234,5 / -12
_COMMA_NUMBER = r"^-?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$"
# A date written day first (23-11-2026, 1/2/2026, 23.11.2026), with a time of day or not
_DAY_FIRST = r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:([ T])(\d{1,2}):(\d{2}(?::\d{2}(?:\.\d+)?)?))?$"


def _values_read_as(table: pa.Table, read_as: ReadAs) -> pa.Table:
    """Numbers and dates of a CSV dialect in the form the expectations and the warehouse read
    (see ``ReadAs``); values of any other form stay as written. Vectorised: no row in Python."""
    steps = [(read_as.numbers if read_as.decimal == "," else (), comma_decimals),
             (read_as.dates | read_as.times if read_as.day_first else (), day_first_dates),
             (read_as.dates, _midnight_dropped),
             (read_as.times if read_as.time_zone else (), lambda column: _utc_times(column, read_as.time_zone))]
    for columns, step in steps:
        for k, name in enumerate(table.column_names):
            if name in columns:
                shaped, read = step(table.column(name))
                table = table.set_column(k, name, pc.if_else(shaped, read, table.column(name)))
    return table


def comma_decimals(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(which values are numbers with a decimal comma, each such value with a decimal point; a euro
    sign as Excel writes a currency cell, "€ -12,50", "-€ 12,50" or "-12,50 €", goes)."""
    plain = pc.replace_substring_regex(column, _EURO, r"\1", max_replacements=1)  # one sign: "€ 1 €" stays
    return (pc.match_substring_regex(plain, _COMMA_NUMBER),
            pc.replace_substring(pc.replace_substring(plain, ".", ""), ",", "."))


def _midnight_dropped(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(which values of a date column are a date at midnight, as a spreadsheet writes a date cell
    formatted as a time, each as the date alone)."""
    return pc.match_substring_regex(column, _MIDNIGHT), pc.utf8_slice_codeunits(column, 0, 10)


def _utc_times(column: pa.ChunkedArray, zone: str) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(which values are ISO times without an offset, each read on the clock of `zone` and written
    in UTC with a Z). A time that occurs twice (the change to winter time) is taken as the first of
    the two; one the change to summer time skips is read with the offset before the change, as the
    clock that wrote it still ran (02:10 and 02:40 stay 30 minutes apart). A time that is no real
    time (30 February, 10:00:61) stays as written, for its rule."""
    text = pc.replace_substring_regex(column, r"^(\d{4}-\d{2}-\d{2})T", r"\1 ")
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2})(\.\d+)?$", r"\1:00\2")  # no seconds
    wall = pc.utf8_slice_codeunits(text, 0, 19)
    moment = pc.strptime(wall, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    real = pc.equal(pc.strftime(moment, format="%Y-%m-%d %H:%M:%S"), wall)  # strptime rolls 30 Feb over to March
    first, last = (pc.assume_timezone(moment, timezone=zone, ambiguous="earliest", nonexistent=side)
                   for side in ("earliest", "latest"))
    before = pa.scalar(timedelta(hours=3))  # before any gap: the offset the clock still had
    skipped = pc.add(pc.assume_timezone(pc.subtract(moment, before), timezone=zone, ambiguous="earliest",
                                        nonexistent="earliest"), before)
    utc = pc.cast(pc.if_else(pc.not_equal(first, last), skipped, first), pa.timestamp("s", "UTC"))
    fraction = pc.utf8_slice_codeunits(text, 19, 40)
    written = pc.binary_join_element_wise(pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S"), fraction, "Z", "")
    return pc.and_kleene(pc.match_substring_regex(column, _NAIVE_TIME), pc.fill_null(real, False)), written


def day_first_dates(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(which values are dates written day first, each such value in ISO 8601 with two-digit parts)."""
    read = column
    for pattern, into in ((r"^(\d)([-/.])", r"0\1\2"),  # RE2 back-references have one digit: \10 is \1, 0
                          (r"^(\d\d[-/.])(\d)([-/.])", r"\10\2\3"),
                          (r"([ T])(\d):", r"\10\2:"),
                          (r"^(\d\d)[-/.](\d\d)[-/.](\d{4})", r"\3-\2-\1")):
        read = pc.replace_substring_regex(read, pattern, into)
    return pc.match_substring_regex(column, _DAY_FIRST), read


# A JSON escape of half a UTF-16 pair (\\ud83d: a text cut inside an emoji by a JavaScript export).
# json.loads accepts it, but no UTF-8 text holds it: Arrow, DuckDB and encryption refuse it, and one
# such line stopped the whole run (Art. 5(1)(d): the line is quarantined with its rule instead).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _read_jsonl(path: Path, expected: list[str], read_as: ReadAs, optional: frozenset[str]) -> "TableRead":
    records, lines, rejects, seen, mapping = [], [], [], set(), read_as.columns
    with path.open("rb") as f:
        for line_no, chunk in enumerate(f, start=1):
            if line_no == 1:
                chunk = chunk.removeprefix(codecs.BOM_UTF8)  # as an editor on Windows writes it; CSV drops it too
            if not chunk.strip():
                continue
            if not records and not rejects and chunk.lstrip().startswith(b"["):
                raise LandingFileError(f"{path}: the file starts with a JSON array, not JSON Lines; export one JSON "
                                       "object per line, without [ ] around them.")
            try:
                obj = json.loads(chunk.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                if _SURROGATE_ESCAPE.search(chunk):  # rare: only then the cost of a check that decides
                    json.dumps(obj, ensure_ascii=False).encode("utf-8")
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                reason = ("line is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else
                          "half of a character (a lone UTF-16 surrogate \\udXXX)" if isinstance(exc, UnicodeEncodeError)
                          else "malformed JSON line")
                rejects.append(Reject(line_no, reason, chunk.decode("utf-8", "replace").rstrip("\n")))
                continue
            renamed = {mapping.get(k, k): v for k, v in obj.items()}
            if len(renamed) < len(obj):
                _check_header(path, list(obj), expected, mapping, optional)  # names the column
            obj = renamed
            seen.update(obj)
            if nested := [c for c in expected if isinstance(obj.get(c), (dict, list))]:
                rejects.append(Reject(line_no, f"{', '.join(nested)}: an object or list, not one value",
                                      chunk.decode("utf-8", "replace").rstrip("\n")))
                continue
            records.append([None if obj.get(c) is None else str(obj[c]) for c in expected])
            lines.append(line_no)
    if records:
        _check_header(path, sorted(seen), expected, {}, optional)
    table = _arrow(records, lines, list(range(len(expected))), expected)
    return TableRead(table, rejects, sorted(seen - set(expected)),
                     [c for c in expected if c not in seen] if records else [])


def _read_parquet(path: Path, expected: list[str], read_as: ReadAs, optional: frozenset[str]) -> "TableRead":
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise LandingFileError(f"{path}: not a readable Parquet file ({type(exc).__name__}); re-export it.") from None
    columns = _check_header(path, table.column_names, expected, read_as.columns, optional)
    table, rejects, lines = _invalid_text_rows(table)
    table = pa.Table.from_arrays([_iso_text(c) for c in table.columns], names=table.column_names)
    df = table.rename_columns(columns).select([c for c in expected if c in columns]).to_pandas()
    df = df.reindex(columns=expected).astype(object)
    df = df.where(df.notna(), None).map(lambda v: v if v is None else str(v)).replace({"": None})
    arrays = [pa.array(df[c].tolist(), pa.string()) for c in expected]
    return TableRead(pa.Table.from_arrays([*arrays, pa.array(lines)], names=[*expected, "_source_line"]), rejects,
                     [c for c in columns if c not in expected], [c for c in expected if c not in columns])


def _invalid_text_rows(table: pa.Table) -> tuple[pa.Table, list[Reject], np.ndarray]:
    """(the rows whose text is valid UTF-8, a Reject per other row, the row numbers kept). A writer
    other than Arrow may put bytes of another encoding in a text column; converting them stopped
    the run with an error quoting the value, which the run's log and Dagster's storage then held
    (Art. 5(1)(f), 32(1)(b)). Such a row is quarantined like a CSV line that is not UTF-8. One fast
    check per column; only a column failing it is searched value by value. A dictionary-encoded
    column (categories, as an Arrow writer may store them) is decoded first, so its values are checked."""
    table = pa.Table.from_arrays([c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
                                  for c in table.columns], names=table.column_names)
    bad: set[int] = set()
    for column in table.columns:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        as_bytes = column.cast(pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary())
        for row, value in enumerate(as_bytes.to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    bad.add(row)
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    if not bad:
        return table, [], rows
    keep = np.ones(table.num_rows, dtype=bool)
    keep[sorted(bad)] = False
    shown = pa.Table.from_arrays([c.cast(pa.large_binary()) if pa.types.is_string(c.type) or pa.types.is_large_string(c.type)
                                  else c for c in table.columns], names=table.column_names).filter(pa.array(~keep))
    rejects = [Reject(int(line), "value is not valid UTF-8", json.dumps(
                   {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for k, v in record.items()},
                   ensure_ascii=False)) for line, record in zip(rows[~keep], shown.to_pylist())]
    return table.filter(pa.array(keep)), rejects, rows[keep]


def _iso_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A Parquet date or time column as the ISO 8601 text a CSV export holds; others as they are.
    Times at midnight only are dates (pandas stores dates as datetime64); a time with a zone is
    written in UTC with a Z."""
    kind = column.type
    if pa.types.is_date(kind):
        return pc.strftime(column, "%Y-%m-%d")
    if not pa.types.is_timestamp(kind):
        return column
    if kind.tz is not None:
        column = column.cast(pa.timestamp(kind.unit, "UTC"))
    elif pc.all(pc.equal(column, pc.floor_temporal(column, unit="day"))).as_py() is not False:
        return pc.strftime(column, "%Y-%m-%d")
    if pc.all(pc.equal(column, pc.floor_temporal(column, unit="second"))).as_py() is not False:
        column = column.cast(pa.timestamp("s", kind.tz and "UTC"))
    return pc.strftime(column, "%Y-%m-%dT%H:%M:%S" + ("Z" if kind.tz else ""))


@dataclass
class TableRead:
    """A landing file as Arrow: the `expected` columns as strings (null for empty) plus _source_line.
    ``ignored_columns``: the header's names that are none of ours (never loaded); ``missing_columns``:
    the optional columns of ours the file lacks, read as null. Names only, never values."""

    rows: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)

    @property
    def input_rows(self) -> int:
        return self.rows.num_rows + len(self.rejects)


READERS = {".csv": _read_csv_table, ".jsonl": _read_jsonl, ".parquet": _read_parquet}


def release_read_memory() -> None:
    """Give the buffers of landing rows already dropped back to the system. Where Arrow's allocator
    keeps freed buffers for reuse (a pyarrow without jemalloc: see `settings.return_freed_memory`),
    a file's rows would stay in the run's memory through the later steps (about 1 GiB after 10 M
    orders; the 4 GiB budget of a run includes dbt's)."""
    pa.default_memory_pool().release_unused()


def read_landing_table(path: Path, expected: list[str], read_as: ReadAs | None = None,
                       optional: frozenset[str] = frozenset()) -> TableRead:
    """Read `path` (CSV, JSON Lines or Parquet) into the `expected` columns as an Arrow table,
    renamed and read as `read_as` says (a CSV's dialect applies to CSV files only); `optional`
    columns may be absent from the file and then read as null.
    Every line is parsed or rejected with its physical line number (see the module docstring)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise LandingFileError(f"{path}: unsupported file type; use .csv, .jsonl or .parquet.")
    if not path.is_file():
        raise LandingFileError(f"{path}: file not found; check the landing folder setting.")
    return reader(path, expected, read_as or ReadAs(), frozenset(optional))
