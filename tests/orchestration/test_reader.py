"""The CSV reader's vectorised fast path reads exactly what the line-by-line reader reads.

`_reference_read_csv` is the line-by-line reader as it was before the fast path (kept here
verbatim as the specification): every file below must give the same rows, rejects (line,
reason, text) and physical line numbers through `read_landing_table`, whatever the block size.
"""

import csv
import random

import pandas as pd
import pyarrow as pa
import pytest

from orchestration.ingest import reader as r
from orchestration.ingest.reader import LandingFileError, ReadAs, read_landing_table

EXPECTED = ["id", "name", "note", "amount"]


def _reference_frame(records, lines, columns, expected):
    df = pd.DataFrame(records, columns=columns, dtype=object).reindex(columns=expected)
    df = df.replace({"": None}).astype(object).where(df.notna(), None)
    df["_source_line"] = lines
    return df


def _reference_read_csv(path, expected, mapping=None, optional=frozenset(), delimiter=",", encoding="utf-8"):
    mapping = mapping or {}
    raw = path.read_bytes()
    if encoding != "utf-8":  # (dialects came later: a single-byte file is read as its UTF-8 text)
        raw = raw.decode(encoding, "surrogateescape").encode("utf-8", "surrogateescape")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    physical = raw.split(b"\n")
    if physical and physical[-1] == b"":
        physical.pop()
    if not physical:
        raise LandingFileError(f"{path}: the file is empty; a landing file needs a header row.")
    header = next(csv.reader([physical[0].decode("utf-8").rstrip("\r")], delimiter=delimiter))
    columns = r._check_header(path, header, expected, mapping, optional)
    width = len(columns)
    records, lines, rejects = [], [], []
    i = 1
    while i < len(physical):
        line_no, chunk = i + 1, physical[i]
        i += 1
        if not chunk.strip(b" \t\r\n\x0b\x0c" + delimiter.encode()):  # (later: separators only is blank too)
            continue
        if b"\x00" in chunk:
            rejects.append(r.Reject(line_no, "line contains a NUL byte", chunk.decode("utf-8", "replace")))
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            rejects.append(r.Reject(line_no, "line is not valid UTF-8 (re-export the file as UTF-8)" if encoding ==
                                    "utf-8" else f"line holds a byte that is no character in {encoding} (the "
                                    "file's encoding in sources.yml)",
                                    chunk.decode("latin-1") if encoding == "utf-8" else chunk.decode("utf-8", "replace")))
            continue
        joined = 1
        while text.count('"') % 2 and joined < r._MAX_RECORD_LINES and i < len(physical):
            text += "\n" + physical[i].decode("utf-8", "replace")
            i, joined = i + 1, joined + 1
        reason = "unterminated quoted field" if text.count('"') % 2 else None
        fields = []
        if reason is None:
            try:
                fields = next(csv.reader([text.rstrip("\r")], strict=True, delimiter=delimiter))
            except csv.Error as exc:
                reason = f"malformed CSV ({exc})"
        if reason is None and len(fields) != width:
            reason = f"expected {width} fields, found {len(fields)}"
        if reason is not None:
            if joined > 1:
                text, i = text.split("\n", 1)[0], line_no
            rejects.append(r.Reject(line_no, reason, text))
            continue
        records.append(fields)
        lines.append(line_no)
    return _reference_frame(records, lines, columns, expected), rejects


LINES = [
    ',,,', ' , ,,\r', ' ' * 20 + ',,,', ',,,' + ' ' * 20, '      ,      ,      ,', '\t' * 10 + ',,,\r', '1,Jan,hallo,1.00', '"2","Piet","met, komma","2.00"', '3,"",,3.00', '"4","Ann ""A"" B","x","4"',
    '5,Bob,"twee\nregels",5', '6,Eva,"open,6', '7,Kim,a"b,7', '8,Tom,"x"y,8', '9,Lot,x,9,extra', '10,Lex,x',
    '', '   ', '11,Nul,\x00,11', '12,Crl,x,12\r', '13,Cr2,"a\rb",13', '14,Cr3,x\r\r', '"15","Q","""",15',
    '16,"Zoë","é",16', '17,Last,"",""', '"18"," spaced ",",",18', '19,B"ad",x,19', '20,"",",",20',
]


def _write(path, lines, *, bom=False, crlf=False, latin1_at=(), final_newline=True, delimiter=",", encoding="utf-8"):
    out = b"\xef\xbb\xbf" if bom else b""
    body = []
    for i, line in enumerate([delimiter.join(EXPECTED), *lines]):
        if encoding != "utf-8":  # "\x81" stands for the byte cp1252 leaves undefined
            b = line.replace("\x81", "").encode(encoding, errors="replace") + (b"\x81" if "\x81" in line else b"")
        else:
            b = line.encode("latin-1" if i in latin1_at else "utf-8", errors="replace")
        body.append(b + (b"\r" if crlf else b""))
    out += b"\n".join(body) + (b"\n" if final_newline else b"")
    path.write_bytes(out)


def _same(path, block_bytes, delimiter=",", encoding="utf-8"):
    old_rows, old_rejects = _reference_read_csv(path, EXPECTED, delimiter=delimiter, encoding=encoding)
    new = r._read_csv_table(path, EXPECTED, ReadAs(delimiter=delimiter, encoding=encoding), frozenset(),
                            block_bytes=block_bytes)
    pd.testing.assert_frame_equal(new.rows.to_pandas(), old_rows, check_dtype=False)
    assert new.rejects == old_rejects
    assert new.rows.schema.field("_source_line").type == "int64"


@pytest.mark.parametrize("block_bytes", [16, 100, 1 << 20])
@pytest.mark.parametrize("variant", ["plain", "bom_crlf", "latin1", "no_final_newline"])
def test_known_cases_match_the_line_by_line_reader(tmp_path, variant, block_bytes):
    path = tmp_path / "f.csv"
    kwargs = {"plain": {}, "bom_crlf": {"bom": True, "crlf": True}, "latin1": {"latin1_at": (16, 17)},
              "no_final_newline": {"final_newline": False}}[variant]
    _write(path, LINES, **kwargs)
    _same(path, block_bytes)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("delimiter,encoding", [(",", "utf-8"), (";", "cp1252"), ("\t", "utf-8")])
def test_random_files_match_the_line_by_line_reader(tmp_path, seed, delimiter, encoding):
    rng = random.Random(seed)
    d = delimiter
    pieces = ['"', d, ",", "a", "b", " ", "\n", "\r", '""', "é", "\x00", f"x{d}y", '"q"', "€", "\x81"]
    lines = []
    for i in range(rng.randint(1, 400)):
        if rng.random() < 0.8:
            lines.append(f'"{i}"{d}"n{i}"{d}"t{i}"{d}"{i}.00"' if rng.random() < 0.5 else f"{i}{d}n{i}{d}t{i}{d}{i}")
        else:
            lines.append("".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))))
    path = tmp_path / "f.csv"
    _write(path, lines, crlf=rng.random() < 0.2, final_newline=rng.random() < 0.8, delimiter=d, encoding=encoding)
    for block_bytes in (7, 64, 1 << 20):
        _same(path, block_bytes, d, encoding)


def test_file_errors(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"")
    with pytest.raises(LandingFileError, match="empty"):
        read_landing_table(path, EXPECTED)
    path.write_bytes(b"id,name\n1,x\n")
    with pytest.raises(LandingFileError, match="missing column"):
        read_landing_table(path, EXPECTED)
    with pytest.raises(LandingFileError, match=r"note \(mapped from 'Remark', which the header lacks\)"):
        read_landing_table(path, EXPECTED, ReadAs({"Remark": "note"}))
    path.write_bytes(b"id,Telefoon,Note,Bedrag \n1,x,y,z\n")  # names that differ in case or spacing only
    with pytest.raises(LandingFileError, match=r"The header has 'Note' where 'note' is looked for, 'Bedrag' where "
                                               r"'bedrag' is looked for: names are matched exactly") as err:
        read_landing_table(path, EXPECTED, ReadAs({"bedrag": "amount"}))
    assert "Telefoon" not in str(err.value)  # a field near no name looked for is not quoted: it could be data
    path.write_bytes(b"Jan,x,NOTE2,12\n")  # no header row: nothing near a name, so nothing quoted
    with pytest.raises(LandingFileError, match="lack its header row") as err:
        read_landing_table(path, EXPECTED)
    assert "NOTE2" not in str(err.value) and "Jan" not in str(err.value)
    path.write_bytes(b"id;name;note;amount\n1;x;y;z\n")  # the Dutch spreadsheet default
    with pytest.raises(LandingFileError, match="one column holding ';': give the source's separator in sources.yml "
                                               r'\(`csv: \{delimiter: ";"\}`\)') as err:
        read_landing_table(path, EXPECTED)
    assert "id;name" not in str(err.value)  # a header's fields are never quoted: without one, they are data
    path.write_bytes(b"id,name,note,amount,name\n1,x,y,z,w\n")
    with pytest.raises(LandingFileError, match="twice"):
        read_landing_table(path, EXPECTED)
    path.write_bytes("id,näme\n".encode("latin-1"))
    with pytest.raises(LandingFileError, match="UTF-8"):
        read_landing_table(path, EXPECTED)


def test_parquet_dates_and_times_are_read_as_the_iso_text_of_a_csv_export(tmp_path):
    path = tmp_path / "orders.parquet"
    pd.DataFrame({
        "order_date": pd.to_datetime(["2026-11-01", "2026-11-02"]),  # pandas keeps dates as datetime64
        "paid_at": pd.to_datetime(["2026-11-01 10:00:00+01:00", "2026-11-02 09:30:00+01:00"]),
        "fraction": pd.to_datetime(["2026-11-01 10:00:00.5", "2026-11-01 10:00:01"], format="ISO8601"),
        "shipped_on": pd.to_datetime(["2026-11-03", "2026-11-04"]).date,
        "logged": pd.to_datetime(["2026-11-01 06:00:00", None]),
    }).to_parquet(path)
    frame = read_landing_table(path, ["order_date", "paid_at", "fraction", "shipped_on", "logged"]).rows.to_pydict()
    assert frame["order_date"] == ["2026-11-01", "2026-11-02"]
    assert frame["paid_at"] == ["2026-11-01T09:00:00Z", "2026-11-02T08:30:00Z"]  # in UTC
    assert frame["fraction"] == ["2026-11-01T10:00:00.500000000", "2026-11-01T10:00:01.000000000"]
    assert frame["shipped_on"] == ["2026-11-03", "2026-11-04"]
    assert frame["logged"] == ["2026-11-01T06:00:00", None]


def test_a_column_that_appears_twice_after_the_mapping_is_refused_by_every_reader(tmp_path):
    mapping = {"Nr": "id"}
    parquet = tmp_path / "f.parquet"
    pd.DataFrame({"id": ["1"], "Nr": ["2"], "name": ["x"], "note": ["y"], "amount": ["3"]}).to_parquet(parquet)
    jsonl = tmp_path / "f.jsonl"
    jsonl.write_text('{"id": "1", "Nr": "2", "name": "x", "note": "y", "amount": "3"}\n')
    csv_file = tmp_path / "f.csv"
    csv_file.write_text("id,Nr,name,note,amount\n1,2,x,y,3\n")
    for path in (parquet, jsonl, csv_file):
        with pytest.raises(LandingFileError, match=r"column\(s\) id appear twice once the source's column mapping"):
            read_landing_table(path, EXPECTED, ReadAs(mapping))
    csv_file.write_text("id,name,note,amount,name\n1,x,y,3,z\n")  # no mapping: no mapping to blame
    with pytest.raises(LandingFileError, match=r"the header names column\(s\) name twice; drop the extra"):
        read_landing_table(csv_file, EXPECTED, ReadAs())


def test_a_json_lines_value_that_is_an_object_is_rejected_not_stored_as_python_text(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_text('{"id": "1", "name": "x", "note": {"body": "y"}, "amount": "3"}\n'
                    '{"id": "2", "name": "x", "note": "y", "amount": "3"}\n')
    read = read_landing_table(path, EXPECTED)
    assert read.rows["id"].to_pylist() == ["2"]
    assert [(r.line, r.reason) for r in read.rejects] == [(1, "note: an object or list, not one value")]


def test_a_json_lines_line_nested_too_deep_is_rejected_not_the_whole_run(tmp_path):
    """Security review: one deeply nested line raised RecursionError and stopped the run."""
    path = tmp_path / "f.jsonl"
    path.write_text('{"id": "1", "name": "x", "note": ' + "[" * 100_000 + "\n"
                    '{"id": "2", "name": "x", "note": "y", "amount": "3"}\n')
    read = read_landing_table(path, EXPECTED)
    assert read.rows["id"].to_pylist() == ["2"] and [(r.line, r.reason) for r in read.rejects] == [(1, "malformed JSON line")]


def test_a_json_lines_line_with_half_a_character_is_rejected_not_the_whole_run(tmp_path):
    """Security review: a lone UTF-16 surrogate escape (a chat text cut inside an emoji by a JavaScript
    export) passed json.loads and then stopped the whole run with UnicodeEncodeError in Arrow: no
    marts, no publication, no retention sweep while the file lay there. A whole pair is a character."""
    path = tmp_path / "f.jsonl"
    path.write_text('{"id": "1", "name": "x", "note": "cut \\ud83d", "amount": "3"}\n'
                    '{"id": "2", "name": "x", "note": "whole \\ud83d\\ude00", "amount": "3"}\n'
                    '{"id": "3", "name": "x", "\\udc80": "y", "amount": "3"}\n'
                    '{"id": "4", "name": "x", "note": "\\\\udc80 is text", "amount": "3"}\n')
    read = read_landing_table(path, EXPECTED)
    assert read.rows["id"].to_pylist() == ["2", "4"] and read.rows["note"].to_pylist() == ["whole \U0001F600", "\\udc80 is text"]
    assert [r.line for r in read.rejects] == [1, 3] and {r.reason for r in read.rejects} == {
        "half of a character (a lone UTF-16 surrogate \\udXXX)"}
    assert read.ignored_columns == []


def test_a_parquet_value_that_is_not_utf8_is_quarantined_and_never_quoted_in_an_error(tmp_path):
    """Security review: a text column with bytes of another encoding (a writer other than Arrow) stopped
    the run with "ArrowException: Wrapping <the value> failed": the value went into the run's log,
    its summary and Dagster's storage, and no marts were built."""
    import numpy as np
    import pyarrow.parquet as pq

    def text(values):  # built from buffers: Arrow's own constructors refuse invalid UTF-8
        offsets = np.cumsum([0] + [len(v) for v in values]).astype(np.int32)
        return pa.Array.from_buffers(pa.string(), len(values), [None, pa.py_buffer(offsets.tobytes()),
                                                                  pa.py_buffer(b"".join(values))])

    names = text([b"Jos", b"Jos\xe9 Secret", b"Ann"])
    # plain, and dictionary-encoded (categories, as an Arrow writer may store a text column)
    for column in (names, pa.DictionaryArray.from_arrays(pa.array([0, 1, 2], pa.int32()), names)):
        path = tmp_path / "f.parquet"
        pq.write_table(pa.table({"id": text([b"1", b"2", b"3"]), "name": column,
                                 "note": text([b"a", b"b", b"c"]), "amount": pa.array([1, 2, 3])}), path)
        read = read_landing_table(path, EXPECTED)
        assert read.rows["id"].to_pylist() == ["1", "3"] and read.rows["_source_line"].to_pylist() == [1, 3]
        assert read.rows["name"].to_pylist() == ["Jos", "Ann"]
        assert [(r.line, r.reason) for r in read.rejects] == [(2, "value is not valid UTF-8")]
        assert "Secret" in read.rejects[0].text  # kept for the quarantine, which encrypts it


@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
def test_a_row_of_separators_only_is_blank_on_both_paths(tmp_path, block_bytes):
    """Review: an empty spreadsheet row exported with tabs was an all-null row on the fast path
    and skipped on the line-by-line one. Both skip it now, as a blank line (no data in it)."""
    path = tmp_path / "f.csv"
    _write(path, ["1\tJan\thallo\t1.00", "\t\t\t", "2\tPiet\tx\t2", " \t\t \t"], delimiter="\t")
    _same(path, block_bytes, "\t")
    assert read_landing_table(path, EXPECTED, ReadAs(delimiter="\t")).rows.column("id").to_pylist() == ["1", "2"]


def test_a_utf8_file_is_read_as_utf8_whatever_encoding_the_source_has(tmp_path):
    """Review: a UTF-8 export in a source set to cp1252 lost its header to the byte-order mark, or
    was loaded garbled ('JosÃ©'), so look-ups by name missed it."""
    path = tmp_path / "f.csv"
    cp1252 = ReadAs(delimiter=";", encoding="cp1252")
    for bom in (b"\xef\xbb\xbf", b""):
        path.write_bytes(bom + "id;name;note;amount\r\n1;José;ü;1\r\n".encode("utf-8"))
        assert read_landing_table(path, EXPECTED, cp1252).rows.column("name").to_pylist() == ["José"]
    ascii_first = "id;name;note;amount\n" + "2;Jan;x;1\n" * 150_000 + "3;Zoë;ü;1\n"  # accents after the first MiB
    path.write_bytes(ascii_first.encode("utf-8"))
    assert read_landing_table(path, EXPECTED, cp1252).rows.column("name").to_pylist()[-1] == "Zoë"
    path.write_bytes("id;name;note;amount\r\n1;José;ü;1\r\n".encode("cp1252"))
    assert read_landing_table(path, EXPECTED, cp1252).rows.column("name").to_pylist() == ["José"]


def test_a_spreadsheets_trailing_separators_are_columns_without_a_name_not_an_error(tmp_path):
    """Review: Excel may end every line with separators; the file was refused as naming a column twice."""
    path = tmp_path / "f.csv"
    path.write_bytes(b"id;name;note;amount;;\n1;Jan;x;1;;\n")
    read = read_landing_table(path, EXPECTED, ReadAs(delimiter=";"))
    assert read.rows.column("amount").to_pylist() == ["1"] and read.rejects == []
    assert read.ignored_columns == ["column(s) 5, 6 without a header name"]  # said, in case they held data


def test_a_quoted_header_in_a_comma_file_gets_no_advice_about_a_setting_it_does_not_have(tmp_path):
    """Review: the whole header in quotes read as one column holding ',' and was told to remove a
    delimiter setting the source did not have."""
    path = tmp_path / "f.csv"
    path.write_bytes(b'"id,name,note,amount"\n1,x,y,z\n')
    with pytest.raises(LandingFileError) as err:
        read_landing_table(path, EXPECTED)
    assert "delimiter" not in str(err.value)
    path.write_bytes(b"id,name,note,amount\n1,x,y,z\n")
    with pytest.raises(LandingFileError, match="the file is comma separated, so remove the source's delimiter"):
        read_landing_table(path, EXPECTED, ReadAs(delimiter=";"))


def test_a_dialects_times_dates_and_amounts_are_read_as_the_warehouse_reads_them(tmp_path):
    """Walkthrough: Excel shows local time, so times were taken as UTC (consents an hour off, a
    withdrawal filed in UTC could lose to an earlier grant); a date cell formatted with a time, and
    an amount written as currency, were quarantined."""
    from orchestration.ingest.reader import _values_read_as

    path = tmp_path / "f.csv"
    path.write_bytes("id;day;at;amount\r\n1;1-2-2026 0:00:00;1-11-2026 9:16;€ 63,10\r\n"
                     "2;2026-02-02;2026-07-01 12:00:00Z;-€ 1.234,50\r\n3;3-2-2026 10:00;26-7-2026 9:16:00.5;€x\r\n"
                     .encode("cp1252"))
    how = ReadAs(delimiter=";", encoding="cp1252", decimal=",", day_first=True, time_zone="Europe/Amsterdam",
                 numbers=frozenset({"amount"}), dates=frozenset({"day"}), times=frozenset({"at"}))
    rows = read_landing_table(path, ["id", "day", "at", "amount"], how).rows.to_pydict()
    assert rows["day"] == ["2026-02-01", "2026-02-02", "2026-02-03 10:00"]  # a time that is not midnight stays
    assert rows["at"] == ["2026-11-01T08:16:00Z", "2026-07-01 12:00:00Z", "2026-07-26T07:16:00.5Z"]
    assert rows["amount"] == ["63.10", "-1234.50", "€x"]  # a value of another form stays, for its rule
    after = _values_read_as(pa.table({"amount": ["12,50 €", "-1.234,50\xa0€", "12,50 EUR", "12 €€", "€ 1,50 €"]}), how)
    assert after.column("amount").to_pylist() == ["12.50", "-1234.50", "12,50 EUR", "12 €€", "€ 1,50 €"]  # one sign


def test_a_local_time_that_is_no_real_time_stays_as_written_and_a_skipped_hour_keeps_its_order():
    """Review: Arrow's parser rolls 30 February over to March and 10:00:61 to the next minute, so
    those were loaded at a wrong instant; and every time in the hour the change to summer time skips
    became the same instant, so a grant and a withdrawal in it tied."""
    from orchestration.ingest.reader import _values_read_as

    table = pa.table({"at": ["2026-02-30 10:00", "2026-11-01 09:00:61", "2028-02-29 10:00",
                             "2026-03-29 02:10", "2026-03-29 02:40", "2026-10-25 02:30"]})
    read = _values_read_as(table, ReadAs(time_zone="Europe/Amsterdam", times=frozenset({"at"})))
    assert read.column("at").to_pylist() == [
        "2026-02-30 10:00", "2026-11-01 09:00:61", "2028-02-29T09:00:00Z",  # the first two: quarantined by their rule
        "2026-03-29T01:10:00Z", "2026-03-29T01:40:00Z",  # skipped by summer time: the clock's offset before it
        "2026-10-25T00:30:00Z"]  # twice at the change to winter time: the first


def test_a_json_array_saved_as_json_lines_is_refused_with_the_fix(tmp_path):
    """Review: it was read as one malformed line."""
    path = tmp_path / "f.jsonl"
    path.write_text('\n  [{"id": "1", "name": "x", "note": "y", "amount": "3"},\n'
                    ' {"id": "2", "name": "x", "note": "y", "amount": "3"}]\n')
    with pytest.raises(LandingFileError, match=r"starts with a JSON array, not JSON Lines; export one JSON object per line") \
            as err:
        read_landing_table(path, EXPECTED)
    assert '"x"' not in str(err.value)


def test_a_json_lines_file_with_a_byte_order_mark_loads_its_first_line(tmp_path):
    """Review: the first line of a .jsonl written with a UTF-8 byte-order mark was rejected as
    malformed JSON, and an array behind one got past the JSON-array message."""
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "1", "name": "x", "note": "y", "amount": "3"}\n')
    read = read_landing_table(path, EXPECTED)
    assert read.rows["id"].to_pylist() == ["1"] and read.rejects == []
    path.write_bytes(b'\xef\xbb\xbf[{"id": "1", "name": "x", "note": "y", "amount": "3"}]\n')
    with pytest.raises(LandingFileError, match="starts with a JSON array, not JSON Lines"):
        read_landing_table(path, EXPECTED)


def test_each_reader_names_the_optional_columns_a_file_lacks_and_the_columns_it_does_not_read(tmp_path):
    """Operations review (Art. 5(1)(d)): a renamed optional column loaded as null with no word; the
    writer records both lists in the load ledger, so every file type must give them."""
    import pyarrow.parquet as pq

    optional = frozenset({"note", "amount"})
    (tmp_path / "f.csv").write_text("id,name,gross_amount,extra\n1,Jan,2,x\n")
    (tmp_path / "f.jsonl").write_text('{"id": "1", "name": "Jan", "gross_amount": "2", "extra": "x"}\n')
    pq.write_table(pa.table({"id": ["1"], "name": ["Jan"], "gross_amount": ["2"], "extra": ["x"]}),
                   tmp_path / "f.parquet")
    for name in ("f.csv", "f.jsonl", "f.parquet"):
        read = read_landing_table(tmp_path / name, EXPECTED, optional=optional)
        assert (read.missing_columns, sorted(read.ignored_columns)) == (["note", "amount"], ["extra", "gross_amount"])
    mapped = read_landing_table(tmp_path / "f.csv", EXPECTED, ReadAs(columns={"gross_amount": "amount"}), optional)
    assert (mapped.missing_columns, mapped.ignored_columns) == (["note"], ["extra"])


def test_a_missing_column_message_marks_the_optional_columns_it_lists(tmp_path):
    """Onboarding review: "Expected columns: ..., margin, product_category, ..." after a missing
    required column read as if every column listed were required."""
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,amount\nO1,C1,1.00\n")
    expected = ["order_id", "customer_id", "order_date", "amount", "margin", "channel"]
    with pytest.raises(LandingFileError) as err:
        read_landing_table(path, expected, ReadAs(), frozenset({"margin", "channel"}))
    assert "missing column(s) order_date;" in str(err.value)
    assert "Expected columns: order_id, customer_id, order_date, amount, and optionally margin, channel." in str(err.value)
