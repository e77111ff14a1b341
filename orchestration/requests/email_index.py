"""Keep the e-mail blind index current: read new or changed landing files of the subject tables.

The raw layer holds e-mail addresses only encrypted, and finding a requester by decrypting
everyone's address would be bulk processing for one person (Art. 5(1)(c)). The landing files
hold the addresses in plain text anyway (the source systems' exports), so each file is read once,
only the keyed HMAC of each address is kept with the subject's pseudonymous id (Art. 12(6), 25),
and a file is read again only when its size or modification time changes.
"""

from orchestration.ingest.reader import LandingFileError, read_landing_file
from orchestration.ingest.sources import column_mapping, source_files

EMAIL = "email"


def refresh(service) -> int:
    """Index every landing file of a subject table with an e-mail column; returns files read."""
    read = 0
    for table in service.classification:
        if table.layer != "source" or table.subject is None or not any(c.from_column == EMAIL for c in table.columns):
            continue
        for path in source_files(service.paths, table.name):
            info = path.stat()
            stamp = f"{info.st_size}:{info.st_mtime_ns}"
            if service.ledger.file_stamp(table.name, path.name) == stamp:
                continue
            try:
                rows = read_landing_file(path, [table.subject.key, EMAIL], column_mapping(service.paths, table.name)).rows
            except LandingFileError:
                continue  # the source's ingest asset reports the unreadable file
            keys = [k if isinstance(k, str) else None for k in rows[table.subject.key].tolist()]
            emails = [e if isinstance(e, str) else None for e in rows[EMAIL].tolist()]
            ids = service.pseudonymiser.subject_ids(table.subject.kind, keys)
            gone = service.keystore.shredded({i for i in ids if i})
            hmacs = service.pseudonymiser.lookup_hmacs(emails)
            service.ledger.index_file(table.name, path.name, stamp, [
                (h, table.subject.kind, i) for h, i in zip(hmacs, ids) if h and i and i not in gone])
            read += 1
    return read
