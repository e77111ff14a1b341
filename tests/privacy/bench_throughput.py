"""Throughput of the privacy hot paths (not a test): python tests/privacy/bench_throughput.py [N]."""

import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from privacy.classification import load_classification
from privacy.crypto import decrypt_values, encrypt_values
from privacy.ingest import protect
from privacy.keystore import KeyStore
from privacy.masterkey import FileMasterKey
from privacy.pseudonym import Pseudonymiser

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


def timed(label, n, fn):
    start = time.perf_counter()
    result = fn()
    took = time.perf_counter() - start
    print(f"{label:<58} {took:7.2f} s  {n / took:>11,.0f} /s")
    return result


def main(n: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="privacy-bench-"))
    store = KeyStore(home / "keystore.sqlite", FileMasterKey(home / "master.key"))
    pseudonymiser = Pseudonymiser(os.urandom(32))
    keys = [f"C{i:07d}" for i in range(n)]
    sids = timed(f"pseudonymise {n:,} customer numbers", n, lambda: pseudonymiser.subject_ids("customer", keys))
    timed(f"ensure: create {n:,} data keys", n, lambda: store.ensure(sids))
    timed(f"ensure again: {n:,} keys already there", n, lambda: store.ensure(sids))
    values = [f"user{i}@example.nl" for i in range(n)]
    few = [sids[i % 10_000] for i in range(n)]
    blobs = timed(f"encrypt {n:,} short values, 10,000 subjects", n,
                  lambda: encrypt_values(values, few, "crm_customers", "email", store))
    timed(f"decrypt {n:,} short values, 10,000 subjects", n,
          lambda: decrypt_values(blobs, few, "crm_customers", "email", store, purpose="benchmark"))
    blobs = timed(f"encrypt {n:,} short values, one per subject", n,
                  lambda: encrypt_values(values, sids, "crm_customers", "email", store))
    timed(f"decrypt {n:,} short values, one per subject", n,
          lambda: decrypt_values(blobs, sids, "crm_customers", "email", store, purpose="benchmark"))

    m = max(n // 10, 1)
    table = load_classification(DBT_PROJECT).table("crm_customers", "source")
    landing = pd.DataFrame({c.from_column: [f"v{i}" for i in range(m)]
                            for c in table.columns if not c.name.startswith("_")})
    landing["customer_id"] = [f"N{i:07d}" for i in range(m)]
    landing["birth_date"], landing["postcode"] = "1980-01-01", "1234 AB"
    timed(f"protect {m:,} new crm_customers rows (11 encrypted columns)", m,
          lambda: protect(table, landing, keystore=store, pseudonymiser=pseudonymiser,
                          now=datetime.now(timezone.utc)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
