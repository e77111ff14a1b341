"""Quarantine rows: every input row that is not loaded is kept here with the rule it broke.

The row's content is personal data like any other, so it is stored as JSON encrypted with the
subject's data key (erasure shreds it) or, when no subject can be read from the row, with a key
for the batch. Art. 5(1)(d): inaccurate data is set aside for repair, not silently dropped.
"""

import json
from datetime import datetime

import pandas as pd

from orchestration.ingest.reader import Reject
from privacy.retention import quarantine_key

COLUMNS = ["source", "file", "line", "rule", "subject_id", "record", "batch_id", "loaded_at"]
MAX_QUARANTINE_SHARE = 0.5  # above this share of a file a systematic fault (format, mapping) is likely


def passes_gate(input_rows: int, quarantined: int, table_failures: str | None, max_share: float) -> bool:
    """The ingest gate's verdict on one file's load: no table-level rule broken, and at most
    `max_share` of its rows quarantined."""
    return not table_failures and (quarantined / input_rows if input_rows else 0.0) <= max_share


def quarantine_frame(ctx, table, file: str, batch_id: str, rows: pd.DataFrame, rejects: list[Reject],
                     failures: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """One quarantine row per rejected line and per row that broke one or more row-level rules
    (`rows`: at least those rows, indexed by their row_index, with _source_line)."""
    rules = failures.groupby("row_index")["rule"].agg(lambda r: "; ".join(sorted(set(r))))
    bad = rows.loc[rules.index]
    records = [json.dumps({k: v for k, v in row.items() if k != "_source_line"}, ensure_ascii=False)
               for row in bad.to_dict("records")]
    keys = bad[table.subject.key].tolist() if len(bad) else []
    lines = bad["_source_line"].tolist()
    reasons = rules.tolist()
    for reject in rejects:
        records.append(json.dumps({"line": reject.text}, ensure_ascii=False))
        keys.append(None)
        lines.append(reject.line)
        reasons.append(reject.reason)
    subjects = [ctx.pseudonymiser.subject_id(table.subject.kind, k) if k else None for k in keys]
    batch_key = quarantine_key(batch_id)  # rows without a readable subject
    owners = [s or batch_key for s in subjects]
    if ctx.encryption:
        ctx.keystore.ensure(sorted(set(owners)))
    encrypted = ctx.encrypt(records, owners, "_quarantine", "record")
    return pd.DataFrame({
        "source": table.name, "file": file, "line": pd.array(lines, dtype="int64"), "rule": reasons,
        "subject_id": subjects, "record": encrypted, "batch_id": batch_id, "loaded_at": now,
    }, columns=COLUMNS)
