"""Keep the blind indexes current: read new or changed landing files of the subject tables.

The raw layer holds e-mail addresses and names only encrypted; finding a requester, or the third
persons in their texts, by decrypting everyone's data would be bulk processing for one person
(Art. 5(1)(c)). The landing files hold those values in plain text anyway (the source systems'
exports), so each file is read once and only keyed HMACs are kept: of each address with the
subject's pseudonymous id (Art. 12(6)) and of each name (Art. 15(4)). A file is read again only
when its size or modification time changes.
"""

from orchestration.ingest.reader import LandingFileError, read_landing_table, release_read_memory
from orchestration.ingest.schema import landing_columns
from orchestration.ingest.sources import read_as, source_files
from privacy.rights.names import person_keys

VERSION = "2"  # bump when what is indexed changes: every file is read again
EMAIL, NAMES = "email", ("first_name", "last_name")


def name_hmacs(pseudonymiser, keys) -> list[str]:
    """Keyed HMACs of (kind, name key) pairs, in their own namespace of the blind index."""
    return pseudonymiser.lookup_hmacs([f"{kind}-name:{key}" for kind, key in keys])


def refresh(service) -> int:
    """Index every landing file of a subject table with an e-mail column; returns files read."""
    read = 0
    for table in service.classification:
        if table.layer != "source" or table.subject is None or EMAIL not in landing_columns(table):
            continue
        names = [c for c in NAMES if c in landing_columns(table)]
        how = read_as(service.paths, table.name, typed=False)  # ids, e-mail addresses and names only
        read_with = f":{fingerprint}" if (fingerprint := how.fingerprint()) else ""
        for path in source_files(service.paths, table.name):
            info = path.stat()
            stamp = f"v{VERSION}:{info.st_size}:{info.st_mtime_ns}{read_with}"
            if service.ledger.index.file_stamp(table.name, path.name) == stamp:
                continue  # read already, through the same column mapping
            columns = [table.subject.key, EMAIL, *names]
            try:
                rows = read_landing_table(path, columns, how).rows
            except LandingFileError:
                continue  # the source's ingest asset reports the unreadable file
            text = {c: rows[c].to_pylist() for c in columns}  # str, or None for empty
            ids = service.pseudonymiser.subject_ids(table.subject.kind, text[table.subject.key])
            gone = service.keystore.shredded({i for i in ids if i})
            hmacs = service.pseudonymiser.lookup_hmacs(text[EMAIL])
            people = {k for f, s in zip(*(text[c] for c in names)) for k in person_keys(f, s)} if len(names) == 2 else set()
            service.ledger.index.index_file(table.name, path.name, stamp, [
                (h, table.subject.kind, i) for h, i in zip(hmacs, ids) if h and i and i not in gone],
                set(name_hmacs(service.pseudonymiser, people)))
            read += 1
            del rows, text
            release_read_memory()
    return read
