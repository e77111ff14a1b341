"""The access package (one zip per request) and the receipts, written privately and atomically.

Art. 15(3) (a copy of the data) and Art. 20(1) (structured, commonly used, machine-readable):
JSON per dataset plus a CSV copy, the Art. 15 information as ``metadata.json``, the HTML summary
in Dutch and English, and ``manifest.json`` / ``SHA256SUMS`` with the SHA-256 of every file so
the subject can check that nothing was altered. Files are created with mode 0600 and swapped in
with one rename, so a half-written export never exists under its final name.
"""

from __future__ import annotations

import base64
import csv
import glob
import hashlib
import io
import json
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from privacy.paths import write_private
from privacy.rights import summary
from privacy.rights.purge import overwritten_when_replaced
from privacy.rights.readable import cell

if TYPE_CHECKING:
    from privacy.rights.access import Dataset


def to_json(value) -> str:
    """JSON text for export data: dates as ISO 8601, decimals exact, bytes as base64."""
    return json.dumps(value, default=_plain, ensure_ascii=False, indent=1, sort_keys=False)


def access_files(datasets: list[Dataset], metadata: dict) -> dict[str, bytes]:
    """Every file of the package (Art. 15(3), 20(1)), the manifest included."""
    files: dict[str, bytes] = {}
    for d in datasets:
        files[f"json/{d.name}.json"] = to_json(d.rows).encode()
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, quoting=csv.QUOTE_ALL)  # a ';' in a text never splits it (Dutch Excel)
        writer.writerow(d.columns)
        writer.writerows([_spreadsheet_cell(r.get(c)) for c in d.columns] for r in d.rows)
        # With a byte-order mark: Excel, which a data subject opens it with, reads the accents as UTF-8.
        files[f"csv/{d.name}.csv"] = buf.getvalue().encode("utf-8-sig")
    files["metadata.json"] = to_json(metadata).encode()
    for lang, name in summary.FILES.items():
        files[name] = summary.render(metadata, datasets, lang).encode()
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    files["manifest.json"] = to_json({"algorithm": "sha256", "request_id": metadata["request_id"], "files": sums}).encode()
    files["SHA256SUMS"] = "".join(f"{h}  {n}\n" for n, h in sums.items()).encode()
    return files


def write_zip(path: Path, files: dict[str, bytes], *, now: datetime) -> str:
    """Write ``files`` as a zip (mode 0600, atomic); returns the SHA-256 of the zip."""
    stamp, buffer = now.timetuple()[:6], io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            z.writestr(info, data)
    _write_private(path, buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def write_json(path: Path, document: dict) -> Path:
    """A receipt or other JSON document, mode 0600, swapped in atomically."""
    return write_text(path, to_json(document))


def write_text(path: Path, text: str) -> Path:
    """A text file (a receipt, a letter), UTF-8, mode 0600, swapped in atomically."""
    return _write_private(path, text)


def _write_private(path: Path, data: bytes | str) -> Path:
    """``privacy.paths.write_private``, after a temporary file an earlier attempt left (the process
    was stopped, or the disk was full) went, zeroed: a half-written access export holds the
    subject's data in clear, and nothing else would ever remove it (Art. 5(1)(e), 17, 32)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _discard(list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp")))
    return write_private(path, data)


def _discard(paths: list[Path]) -> None:
    with overwritten_when_replaced(paths):
        for p in paths:
            p.unlink(missing_ok=True)


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(value)).decode()
    return str(value)


# A text cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _spreadsheet_cell(value) -> str:
    """One CSV cell that a spreadsheet shows rather than runs (Art. 32: a text a stranger typed
    into a web form, such as ``=HYPERLINK(...)``, must not act on the subject's computer).

    OWASP's advice: a text starting with ``= + - @``, a tab or a carriage return gets an
    apostrophe in front, which the spreadsheet shows as text, and every cell is quoted (by the
    writer), so no separator inside a text starts a new cell. Numbers, dates and amounts (a
    negative one too, such as a margin of -2.50) are written as they are; json/ holds every text
    unchanged.
    """
    text = cell(_plain_or_self(value))
    formula = isinstance(value, str) and text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text)
    return "'" + text if formula else text


def _plain_or_self(value):
    return value if value is None or isinstance(value, (str, int, float, bool, dict, list)) else _plain(value)
