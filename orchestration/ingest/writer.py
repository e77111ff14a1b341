"""The single choke point that writes the raw layer (design.md section 3).

Every landing row passes here: read, validated (rows breaking a rule go to quarantine with the
rule), pseudonymised, encrypted and redacted by `privacy.ingest.protect`, then written to
`raw.<table>` in one transaction per file. Loading the same file again replaces its rows
(idempotent); an unchanged file is skipped unless a full refresh is asked for. Rows of erased
subjects are suppressed (Art. 17), so re-ingesting old files cannot bring them back.
"""

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from orchestration.ingest.quarantine import quarantine_frame
from orchestration.ingest.reader import read_landing_file
from orchestration.ingest.schema import ensure_raw_tables, landing_columns, optional_columns
from privacy.ingest import erased_rows, protect


@dataclass(frozen=True)
class BatchResult:
    source: str
    file: str
    input_rows: int = 0
    loaded: int = 0
    quarantined: int = 0
    suppressed: int = 0
    skipped: bool = False
    rule_counts: dict[str, int] = field(default_factory=dict)  # rows per broken rule or parse problem
    table_failures: list[str] = field(default_factory=list)

    def reconciles(self) -> bool:
        return self.input_rows == self.loaded + self.quarantined + self.suppressed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unchanged(con: duckdb.DuckDBPyConnection, source: str, file: str, sha: str) -> bool:
    row = con.execute("select sha256 from raw._batches where source = ? and file = ? "
                      "order by loaded_at desc, batch_id limit 1", [source, file]).fetchone()
    return row is not None and row[0] == sha


def _insert(con: duckdb.DuckDBPyConnection, name: str, df: pd.DataFrame) -> None:
    if len(df):
        con.register("_incoming", pa.Table.from_pandas(df, preserve_index=False))
        con.execute(f'insert into raw."{name}" by name select * from _incoming')
        con.unregister("_incoming")


def _rule_counts(failures: pd.DataFrame, read) -> dict[str, int]:
    counts = failures.groupby("rule")["row_index"].nunique().to_dict()
    for reject in read.rejects:
        counts[reject.reason] = counts.get(reject.reason, 0) + 1
    return {str(k): int(v) for k, v in sorted(counts.items())}


def load_file(con: duckdb.DuckDBPyConnection, table, path: Path, ctx, *, full_refresh: bool = False,
              mapping: dict[str, str] | None = None) -> BatchResult:
    """Load one landing file into raw.<table>: every input row ends up loaded, quarantined or suppressed."""
    ensure_raw_tables(con, [table])
    sha = _sha256(path)
    if not full_refresh and _unchanged(con, table.name, path.name, sha):
        return BatchResult(table.name, path.name, skipped=True)
    read = read_landing_file(path, landing_columns(table), mapping, optional_columns(table))
    failures, table_failures = ctx.validate(table.name, read.rows)
    rows = read.rows.drop(index=failures["row_index"].unique())
    erased = erased_rows(table, rows, keystore=ctx.keystore, pseudonymiser=ctx.pseudonymiser)
    rows = rows[~erased]
    batch_id = ctx.new_batch_id()
    protected = protect(table, rows.drop(columns="_source_line"), keystore=ctx.keystore,
                        pseudonymiser=ctx.pseudonymiser, redactor=ctx.redactor_for(table), now=ctx.now)
    protected["_source_file"] = path.name
    protected["_source_line"] = rows["_source_line"].to_numpy()
    protected["_batch_id"] = batch_id
    quarantine = quarantine_frame(ctx, table, path.name, batch_id, read, failures, ctx.now)
    result = BatchResult(table.name, path.name, read.input_rows, len(protected), len(quarantine),
                         int(erased.sum()),
                         rule_counts=_rule_counts(failures, read), table_failures=table_failures)
    con.execute("begin")
    try:
        con.execute(f'delete from raw."{table.name}" where _source_file = ?', [path.name])
        con.execute("delete from raw._quarantine where source = ? and file = ?", [table.name, path.name])
        _insert(con, table.name, protected)
        _insert(con, "_quarantine", quarantine)
        con.execute("insert into raw._batches values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [batch_id, table.name, path.name, sha, result.input_rows, result.loaded,
                     result.quarantined, result.suppressed, ctx.now])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    ctx.audit.append("ingest_batch", now=ctx.now, batch_id=batch_id,
                     **{k: v for k, v in asdict(result).items() if k not in ("rule_counts", "table_failures", "skipped")})
    return result
