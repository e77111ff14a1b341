"""The single choke point that writes the raw layer (GDPR Art. 5(1)(d), 17, 25, 32).

Every landing row passes here: read, validated (rows breaking a rule go to quarantine with the
rule), pseudonymised, encrypted and redacted by `privacy.ingest.protect_table`, then written to
`raw.<table>` in one transaction per file. Loading the same file again replaces its rows
(idempotent); an unchanged file is skipped unless a full refresh is asked for. Rows of erased
subjects are suppressed (Art. 17), so re-ingesting old files cannot bring them back, and values a
rectification corrected in a file's rows are kept when it is loaded again (Art. 16).
"""

import hashlib
import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.ingest.quarantine import quarantine_frame
from orchestration.ingest.reader import LandingFileError, ReadAs, read_landing_table
from orchestration.ingest.schema import LATEST_LOAD_FIRST, ensure_raw_tables, landing_columns, optional_columns
from privacy.ingest import protect_table
from privacy.rights.rectify import corrections, reapply
from privacy.rights.warehouse import column_types
from privacy.transaction import transaction

CHUNK_ROWS = 200_000  # rows protected at a time when every transform is vectorised (Arrow in, Arrow out)
# ... and when a transform works value by value (encryption, redaction): each value, its ciphertext
# and each subject's cipher are Python objects while the chunk is in flight, several KB a row. A
# replacing load of 1 M CRM rows peaked 0.8 GiB lower at 50,000 than at 200,000, no slower; 10 M
# orders, vectorised only, were slower and larger in chunks of 50,000 (DuckDB gets more, smaller
# batches). Each half of a chunk still reaches PARALLEL_MIN_ROWS, so the helper process takes part.
PER_VALUE_CHUNK_ROWS = 50_000
PARALLEL_MIN_ROWS = 20_000  # below this a chunk is protected in this process only
UNLOADED = "unloaded"  # raw._batches.sha256 of a file taken out by `unload_file`: no content matches it
PROGRESS_SECONDS = 15.0  # a long file load says how far it is at most this often; a quick one says nothing
# The load ledger's columns every load records (schema._BATCHES; the others are named where they are set)
_LEDGER = "batch_id, source, file, sha256, input_rows, loaded, quarantined, suppressed, loaded_at"


@dataclass(frozen=True)
class BatchResult:
    source: str
    file: str
    input_rows: int = 0
    loaded: int = 0
    quarantined: int = 0
    suppressed: int = 0
    corrections_kept: int = 0  # rows whose rectified values a reload of the file would have undone (Art. 16)
    corrections_dropped: int = 0  # rows with rectified values in a file that changed since: its values stand
    replaced: int = 0  # rows of an earlier load of the file with other content, deleted (orchestration.compaction)
    skipped: bool = False
    rule_counts: dict[str, int] = field(default_factory=dict)  # rows per broken rule or parse problem
    table_failures: list[str] = field(default_factory=list)

    def reconciles(self) -> bool:
        return self.input_rows == self.loaded + self.quarantined + self.suppressed


def content_key(path: Path, read_as: ReadAs | None = None) -> str:
    """The file's SHA-256; with a column mapping or CSV dialect, of the file and those together, so
    a file read through a changed mapping or dialect is loaded again (a mistake in it shows at once)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if not (fingerprint := (read_as or ReadAs()).fingerprint()):
        return digest.hexdigest()
    return hashlib.sha256(f"{digest.hexdigest()}\n{fingerprint}".encode()).hexdigest()


def _latest_key(con: duckdb.DuckDBPyConnection, source: str, file: str) -> str | None:
    """The content key of the latest load of `file` (UNLOADED once unloaded); None if never loaded."""
    row = con.execute("select sha256 from raw._batches where source = ? and file = ? "
                      f"order by {LATEST_LOAD_FIRST} limit 1", [source, file]).fetchone()
    return row and row[0]


def _unchanged(con: duckdb.DuckDBPyConnection, source: str, file: str, sha: str) -> bool:
    return _latest_key(con, source, file) == sha


def _insert(con: duckdb.DuckDBPyConnection, name: str, rows: pd.DataFrame) -> None:
    if len(rows):
        con.register("_incoming", pa.Table.from_pandas(rows, preserve_index=False))
        con.execute(f'insert into raw."{name}" by name select * from _incoming')
        con.unregister("_incoming")


def _first_loaded(con: duckdb.DuckDBPyConnection, source: str, file: str, sha: str):
    """When this content of `file` was first loaded, or None. A file loaded again unchanged keeps
    that time for its quarantined rows, so reloading does not restart their retention (Art. 5(1)(e))."""
    return con.execute("select min(loaded_at) from raw._batches where source = ? and file = ? and sha256 = ?",
                       [source, file, sha]).fetchone()[0]


def _subject_ids(table, rows: pa.Table, pseudonymiser) -> tuple[np.ndarray, np.ndarray, set[str]]:
    """The pseudonym of every row's subject (None where the key is missing), each distinct key
    hashed once (an orders file names each customer many times), every row's rank in pseudonym
    order (missing keys last), and the distinct pseudonyms."""
    keys = rows[table.subject.key]
    keys = pc.if_else(pc.equal(keys, ""), pa.scalar(None, pa.string()), keys)
    encoded = pc.dictionary_encode(keys.combine_chunks() if keys.num_chunks != 1 else keys.chunk(0))
    distinct = pseudonymiser.subject_ids(table.subject.kind, encoded.dictionary.to_pylist())
    ids = np.asarray([*distinct, None], dtype=object)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[pc.sort_indices(pa.array(distinct, pa.string())).to_numpy()] = np.arange(len(distinct))
    rank[-1] = len(distinct)
    codes = encoded.indices.fill_null(len(ids) - 1).to_numpy(zero_copy_only=False)
    return ids[codes], rank[codes], set(distinct)


def _ahead(items):
    """`items`, each made in a worker thread while the previous one is consumed: the next chunk
    is protected while DuckDB writes this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        coming = pool.submit(next, items, None)
        while (item := coming.result()) is not None:
            coming = pool.submit(next, items, None)
            yield item


def _insert_stream(con: duckdb.DuckDBPyConnection, name: str, tables) -> None:
    """Insert the Arrow tables `tables` yields into raw.<name> as one statement. DuckDB writes
    a statement's rows to the file as they stream in, while separate inserts in one transaction
    are held in memory until it commits: 10 M orders take 17 s at 2.1 GiB peak this way, 34 s at
    3.7 GiB as 50 inserts. An error raised while making the rows is raised as it is."""
    tables = _ahead(tables)
    first = next(tables, None)
    if first is None:
        return
    schema, failed = first.schema, []

    def batches():
        try:
            for part in itertools.chain([first], tables):
                yield from part.cast(schema).to_batches()
        except Exception as exc:
            failed.append(exc)
            raise

    con.register("_incoming", pa.RecordBatchReader.from_batches(schema, batches()))
    try:
        con.execute(f'insert into raw."{name}" by name select * from _incoming')
    except duckdb.Error:
        if failed:
            raise failed[0] from None
        raise
    finally:
        con.unregister("_incoming")


class _Progress:
    """Passes a progress line (counts only, never values) to `say` when PROGRESS_SECONDS have gone
    by since the load started or since the last line; `message` is made only then."""

    def __init__(self, say: Callable[[str], None] | None):
        self.say, self.last = say, time.monotonic()

    def __call__(self, message: Callable[[], str]) -> None:
        if self.say is not None and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.say(message())
            self.last = time.monotonic()


def _rule_counts(failures: pd.DataFrame, rejects) -> dict[str, int]:
    counts = failures.groupby("rule")["row_index"].nunique().to_dict()
    for reject in rejects:
        counts[reject.reason] = counts.get(reject.reason, 0) + 1
    return {str(k): int(v) for k, v in sorted(counts.items())}


def _per_value_work(ctx, table) -> bool:
    """Whether protecting the table works value by value (encryption, redaction) rather than vectorised."""
    return any(c.transform == "redact" or (c.transform == "encrypt" and ctx.encryption) for c in table.columns)


def _helper(ctx, table, rows: int):
    """The helper process for `rows` rows of a table with per-value work, or None: too few rows,
    or only vectorised work."""
    return ctx.helper() if _per_value_work(ctx, table) and rows >= PARALLEL_MIN_ROWS else None


def _protect(ctx, table, rows: pa.Table, subject_ids: np.ndarray, redactor) -> pa.Table:
    """`protect_table` on one chunk; a large chunk is split in two halves, the first protected by
    the helper process meanwhile."""
    helper = _helper(ctx, table, rows.num_rows)
    local = {"keystore": ctx.keystore, "pseudonymiser": ctx.pseudonymiser, "redactor": redactor, "now": ctx.now,
             "encryption": ctx.encryption}
    if helper is None:
        return protect_table(table, rows, subject_ids=subject_ids, **local)
    if ctx.encryption and any(c.transform == "encrypt" for c in table.columns):
        ctx.keystore.ensure({s for s in subject_ids.tolist()})  # only this process writes keys
    half = rows.num_rows // 2
    first = helper.protect(table, rows.slice(0, half), subject_ids[:half], ctx.now, ctx.encryption)
    second = protect_table(table, rows.slice(half), subject_ids=subject_ids[half:], **local)
    try:
        done = first.result()
    except BrokenProcessPool:  # the helper could not start or died: do its half here, and go on alone
        ctx.close(broken=True)
        done = protect_table(table, rows.slice(0, half), subject_ids=subject_ids[:half], **local)
    return pa.concat_tables([done, second])


def load_file(con: duckdb.DuckDBPyConnection, table, path: Path, ctx, *, full_refresh: bool = False,
              read_as: ReadAs | None = None, chunk_rows: int | None = None,
              progress: Callable[[str], None] | None = None) -> BatchResult:
    """Load one landing file into raw.<table>: every input row ends up loaded, quarantined or suppressed.

    The file is read and validated whole (ids must be unique across it), then protected and
    written `chunk_rows` rows at a time (by default CHUNK_ROWS, or PER_VALUE_CHUNK_ROWS for a table
    with per-value work), so memory holds the file as Arrow strings plus a few chunks in flight,
    never the whole file. Its rows replace the file's earlier rows in one
    transaction: readers see all of the file or none of it. `progress` gets a line now and then
    while a large file loads (see PROGRESS_SECONDS).
    """
    ensure_raw_tables(con, [table], ctx.audit, ctx.now)
    tell = _Progress(progress)
    sha = content_key(path, read_as)
    same = _unchanged(con, table.name, path.name, sha)
    if same and not full_refresh:
        return BatchResult(table.name, path.name, skipped=True)
    read = read_landing_table(path, landing_columns(table), read_as, optional_columns(table))
    names, columns, rejects, input_rows = read.rows.column_names, read.rows.columns, read.rejects, read.input_rows
    not_read, missing = read.ignored_columns, read.missing_columns
    del read
    tell(lambda: f"read {input_rows:,} rows; validating")
    # One chunk per column: taking each chunk's rows from many chunks gathers them again per take.
    # Combined a column at a time, each column's chunks dropped at once, so the file is never held
    # twice (10 M orders: 2.1 -> 1.5 GiB after the read).
    for i, column in enumerate(columns):
        columns[i] = column.combine_chunks()
    del column
    rows = pa.Table.from_arrays(columns, names=names)
    n = rows.num_rows
    if helper := _helper(ctx, table, n):
        helper.warm(table)
    failures, table_failures = ctx.validate(table.name, rows)
    # An erased subject's row is suppressed even when it breaks a rule: quarantining it would need
    # the shredded key and would keep what the erasure removed (Art. 17).
    subject_ids, rank, subjects = _subject_ids(table, rows, ctx.pseudonymiser)
    gone = ctx.keystore.shredded(subjects)
    erased = np.fromiter((s in gone for s in subject_ids), dtype=bool, count=n) if gone else np.zeros(n, dtype=bool)
    failures = failures[~erased[failures["row_index"].to_numpy(dtype=np.int64)]] if len(failures) else failures
    load = ~erased
    load[failures["row_index"].to_numpy(dtype=np.int64)] = False
    batch_id = ctx.new_batch_id()
    bad = np.unique(failures["row_index"].to_numpy(dtype=np.int64))
    bad_rows = rows.take(pa.array(bad, pa.int64())).to_pandas()
    bad_rows.index = bad
    quarantine = quarantine_frame(ctx, table, path.name, batch_id, bad_rows, rejects, failures,
                                  _first_loaded(con, table.name, path.name, sha) or ctx.now)
    result = BatchResult(table.name, path.name, input_rows, int(load.sum()), len(quarantine), int(erased.sum()),
                         rule_counts=_rule_counts(failures, rejects), table_failures=table_failures)
    tell(lambda: f"validated: {result.loaded:,} rows to load, {result.quarantined:,} to quarantine, "
                 f"{result.suppressed:,} of erased subjects")
    redactor = ctx.redactor_for(table)
    chunk_rows = chunk_rows or (PER_VALUE_CHUNK_ROWS if _per_value_work(ctx, table) else CHUNK_ROWS)
    # Rows go in sorted by subject, so DuckDB's per-row-group min/max skip nearly all of a large
    # table when one subject's rows are looked up (access export, erasure: Art. 15, 17): 0.4 s ->
    # 0.01 s per lookup in 10 M orders. Within a subject the file's order is kept.
    positions = np.flatnonzero(load)
    positions = positions[np.argsort(rank[positions], kind="stable")]

    def protected_chunks():
        for start in range(0, len(positions), chunk_rows):
            if start:
                tell(lambda: f"{start:,} of {len(positions):,} rows protected")
            at = positions[start:start + chunk_rows]
            chunk = rows.take(pa.array(at, pa.int64()))
            protected = _protect(ctx, table, chunk.drop_columns(["_source_line"]), subject_ids[at], redactor)
            yield (protected.append_column("_source_file", pa.array([path.name] * len(at), pa.string()))
                   .append_column("_source_line", chunk["_source_line"])
                   .append_column("_batch_id", pa.array([batch_id] * len(at), pa.string())))

    with transaction(con):
        # What rectifications corrected in the file's rows (Art. 16) goes back into the same content
        # loaded again; a changed file is the source system's new word, and the load says so.
        saved = corrections(con, table, path.name)
        gone = con.execute(f'delete from raw."{table.name}" where _source_file = ?', [path.name]).fetchone()[0]
        con.execute("delete from raw._quarantine where source = ? and file = ?", [table.name, path.name])
        _insert_stream(con, table.name, protected_chunks())
        result = replace(result, corrections_kept=reapply(con, table, path.name, saved) if same else 0,
                         corrections_dropped=0 if same else len(saved), replaced=0 if same else gone)
        _insert(con, "_quarantine", quarantine)
        con.execute(f"insert into raw._batches ({_LEDGER}, table_failures, columns_not_read, columns_missing, "
                    "columns_read) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [batch_id, table.name, path.name, sha, result.input_rows, result.loaded,
                     result.quarantined, result.suppressed, ctx.now, "\n".join(table_failures) or None,
                     not_read, missing, [c for c in landing_columns(table) if c not in missing]])
        # Recorded before the commit: a load the audit log cannot record is not made (Art. 5(2)); a
        # process stopped between the two leaves an entry whose batch id raw._batches lacks, never
        # rows without an entry.
        ctx.audit.append("ingest_batch", now=ctx.now, batch_id=batch_id,
                         **{k: v for k, v in asdict(result).items() if k not in ("rule_counts", "table_failures", "skipped")})
    return result


def unload_file(con: duckdb.DuckDBPyConnection, source: str, file: str, batch_id: str, audit,
                now) -> tuple[int, int, int]:
    """Take the rows of a landing file loaded by mistake (a wrong name, folder or export) out of
    raw.<source> and the quarantine, in one transaction (Art. 5(1)(d), accuracy). A ledger row with
    no input records it, so the reconciliation counts the file as empty, and the file placed again
    is loaded anew. Returns (rows, quarantined rows, rows that held rectified values) removed; the
    next run rebuilds the marts. LandingFileError when the raw layer holds no load of it."""
    if _latest_key(con, source, file) in (None, UNLOADED):
        raise LandingFileError(f"{source} holds no rows of a file named {file}: `klantkluis status` lists the "
                               "files loaded earlier that are no longer in the landing zone")
    with transaction(con):
        rectified = con.execute(f'select count(*) from raw."{source}" where _source_file = ? and _rectified is not null',
                                [file]).fetchone()[0] if "_rectified" in column_types(con, "raw", source) else 0
        rows = con.execute(f'delete from raw."{source}" where _source_file = ?', [file]).fetchone()[0]
        quarantined = con.execute("delete from raw._quarantine where source = ? and file = ?", [source, file]).fetchone()[0]
        con.execute(f"insert into raw._batches ({_LEDGER}) values (?, ?, ?, ?, 0, 0, 0, 0, ?)",
                    [batch_id, source, file, UNLOADED, now])
        audit.append("landing_file_unloaded", now=now, batch_id=batch_id, source=source, file=file, rows=rows,
                     quarantined=quarantined)
    return rows, quarantined, rectified
