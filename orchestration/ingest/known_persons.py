"""The CRM's known persons (customers and leads) for the free-text redactor.

Read from the landing files, where the names are in plain text anyway, so building the list
needs no decryption (and no audit entry for bulk decryption). Art. 15(4), 25: a customer named
in another customer's note is found and redacted.
"""

from functools import lru_cache

from orchestration.ingest.reader import LandingFileError, read_landing_table
from orchestration.ingest.sources import read_as, source_files
from orchestration.settings import Paths

PERSON_COLUMNS = ["first_name", "last_name", "email"]


def known_persons(paths: Paths) -> list[tuple[str, str, str]]:
    """(first name, last name, e-mail) of every customer and lead in the landing files, each once,
    in no particular order (the redactor keeps them in sets)."""
    seen: set[tuple[str, str, str]] = set()
    for source in ("crm_customers", "leads"):
        for path in source_files(paths, source):
            try:
                rows = read_landing_table(path, PERSON_COLUMNS, read_as(paths, source, typed=False)).rows
            except LandingFileError:
                continue  # the source's own ingest asset reports the unreadable file
            seen.update(zip(*(rows[c].fill_null("").to_pylist() for c in PERSON_COLUMNS)))
    return list(seen)


def redactor_for(paths: Paths, table):
    """The free-text redactor (Art. 25) with the known persons, None for a table without free
    text. Built once per process for each state of the customer and lead files: every redacting
    source of a run shares it (seconds at a million persons). It lives in memory only, like the
    landing rows it is made from."""
    if not any(c.transform == "redact" for c in table.columns):
        return None
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                  for source in ("crm_customers", "leads") for p in source_files(paths, source))
    return _redactor(paths, stamp)


@lru_cache(maxsize=1)
def _redactor(paths: Paths, stamp: tuple):
    from privacy.redact import Redactor

    return Redactor(known_persons(paths)).redact
