"""Deterministic demo landing zone: two CRM landing days of every source.

Day 1 is a full export; day 2 holds what changed: customers who moved, changed phone or bank
account or ended the relationship, new customers, and the day's orders, consent events, NPS
responses and contact moments. Same seed and size give the same bytes.
"""

import itertools
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from orchestration.demo import customers as cu
from orchestration.demo import events as ev

_encode = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) does to a str

DEFAULT_AS_OF = date(2026, 11, 1)


@dataclass(frozen=True)
class Generated:
    landing: Path
    truth: Path
    rows: dict[str, int]
    seconds: float


def _public(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in df.columns if not c.startswith("_")]]


def _arrow(df: pd.DataFrame | pa.Table) -> pa.Table:
    """The public columns as Arrow strings (null for None/NaN), column by column."""
    if isinstance(df, pa.Table):
        return df.select([c for c in df.column_names if not c.startswith("_")])
    columns = {}
    for name in _public(df).columns:
        values = df[name].to_numpy()
        array = pa.array(values, from_pandas=True) if values.dtype.kind in "OUSifb" else pa.array(df[name])
        columns[name] = array if array.type == pa.string() else array.cast(pa.string())
    return pa.table(columns)


def _write_csv(df: pd.DataFrame | pa.Table, path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pacsv.write_csv(_arrow(df), path, pacsv.WriteOptions(quoting_style="needed"))
    path.chmod(0o600)  # personal data in plain text, as a source system's export: this account only


def _write_jsonl(df: pd.DataFrame, path: Path) -> None:
    # What json.dumps(row, ensure_ascii=False) writes for a row of strings and None, built per column.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    table = _arrow(df)
    parts = []
    for k, name in enumerate(table.column_names):
        values = table.column(name).to_pylist()
        key = ("{" if k == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": "
        parts.append([key + ("null" if v is None else _encode(v)) for v in values])
    with path.open("w", encoding="utf-8") as out:
        out.writelines("".join(row) + "}\n" for row in zip(*parts))
    path.chmod(0o600)


def _day(rng, crm, people_pool, window, counters: dict, truth: list):
    """(source, rows) of one day's events, each drawn when the previous one has been written, so
    that one source's rows are held at a time (ten million orders at 1 M customers); the draws
    come in the same order as ever, and so do the bytes."""
    draws = (("orders", lambda: cu.orders(rng, crm, counters["orders"], window)),
             ("consent_events", lambda: ev.consent_events(rng, crm, window, counters["consent_events"])),
             ("nps_responses", lambda: ev.nps_responses(rng, crm, people_pool, window, counters["nps_responses"],
                                                        truth)),
             ("interactions", lambda: ev.interactions(rng, crm, people_pool, window, counters["interactions"], truth)))
    for name, draw in draws:
        rows = draw()
        counters[name] += len(rows)
        yield name, rows
        del rows


def _write_day(landing: Path, day: date, frames, rows: dict[str, int]) -> None:
    """Write each (source, rows) of `frames` as it comes."""
    for source, df in frames:
        if source == "interactions":
            _write_jsonl(df, landing / source / f"{day.isoformat()}.jsonl")
        else:
            _write_csv(df, landing / source / f"{day.isoformat()}.csv")
        rows[source] = rows.get(source, 0) + len(df)
        del df  # before the next source is drawn


def generate(out: Path, customers: int = 10_000, seed: int = 42, as_of: date = DEFAULT_AS_OF) -> Generated:
    """Write `<out>/landing/<source>/<day>.<ext>` and `<out>/truth/*_spans.jsonl`."""
    started = datetime.now()
    rng = np.random.default_rng(seed)
    landing, truth_dir = out / "landing", out / "truth"
    for folder in (landing, truth_dir):  # plain personal data: readable by this account only
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    day2 = as_of + timedelta(days=1)
    crm = cu.customers(rng, customers, as_of)
    lead_table = cu.leads(rng, max(customers * 3 // 10, 1), as_of)
    pool = pd.concat([crm[lead_table.columns.intersection(crm.columns)],
                      lead_table[lead_table.columns.intersection(crm.columns)]], ignore_index=True)
    counters = dict.fromkeys(["orders", "consent_events", "nps_responses", "interactions"], 1)
    truth: list[dict] = []
    rows: dict[str, int] = {}
    _write_day(landing, as_of, itertools.chain([("crm_customers", crm), ("leads", lead_table)],
                                               _day(rng, crm, pool, None, counters, truth)), rows)
    newcomers = cu.customers(rng, max(customers // 100, 1), day2, id_offset=customers)
    newcomers["exported_at"] = datetime.combine(day2, time(6, 0)).isoformat(sep=" ")
    changed = cu.moved(rng, crm, datetime.combine(day2, time(6, 0)))
    # The active customers of day 2, old and new (filtered before concatenating: one copy less).
    active = pd.concat([crm[crm["status"] == "active"], newcomers[newcomers["status"] == "active"]])
    active.index = pd.RangeIndex(len(crm) + len(newcomers))[np.concatenate(
        [np.flatnonzero(crm["status"] == "active"), len(crm) + np.flatnonzero(newcomers["status"] == "active")])]
    today = cu.day_number(day2)
    _write_day(landing, day2, itertools.chain([("crm_customers", pd.concat([changed, newcomers], ignore_index=True))],
                                              _day(rng, active, pool, (today - 1, today), counters, truth)), rows)
    with (truth_dir / "text_spans.jsonl").open("w", encoding="utf-8") as f:
        for item in truth:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    (truth_dir / "text_spans.jsonl").chmod(0o600)
    return Generated(landing, truth_dir, rows, (datetime.now() - started).total_seconds())
