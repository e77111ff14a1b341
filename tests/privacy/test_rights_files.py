"""The request answers' files (privacy.rights.package): a write that fails or is stopped leaves no
half-written copy of a subject's data behind in the outbox (Art. 5(1)(e), 17, 32)."""

import errno
import zipfile
from datetime import datetime, timezone

import pytest

from privacy.rights.package import write_text, write_zip

NOW = datetime(2026, 12, 7, tzinfo=timezone.utc)


def test_a_failed_export_leaves_no_temporary_file(tmp_path, monkeypatch):
    real, calls = zipfile.ZipFile.writestr, []

    def disk_full(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    with pytest.raises(OSError):
        write_zip(tmp_path / "req-1.zip", {"a.json": b"{}", "b.json": b"{}"}, now=NOW)
    assert list(tmp_path.iterdir()) == []


def test_what_a_stopped_write_left_goes_with_the_next_write(tmp_path):
    # a process killed while writing the export (SIGKILL, power loss) left its temporary file
    left = tmp_path / ".req-1.zip.4242.tmp"
    left.write_bytes(b"PK\x03\x04 part of an export")
    other = tmp_path / ".req-2.zip.4242.tmp"
    other.write_bytes(b"another request's")
    write_zip(tmp_path / "req-1.zip", {"a.json": b"{}"}, now=NOW)
    write_text(tmp_path / "req-1.letter.txt", "letter")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".req-2.zip.4242.tmp", "req-1.letter.txt", "req-1.zip"]
