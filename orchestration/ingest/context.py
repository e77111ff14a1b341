"""Everything the raw-layer writer needs for one run: keys and pseudonyms (Art. 32), the audit log
(Art. 5(2)), validation rules (Art. 5(1)(d)) and redaction (Art. 25).

Built once per run from the installation's paths; the privacy services come from `privacy`
(a plain library), validation rules from `expectations`.
"""

import os
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import pyarrow as pa

from orchestration.settings import Paths
from privacy.audit import AuditLog
from privacy.crypto import encrypt_values
from privacy.keystore import KeyStore
from privacy.masterkey import master_key_from_env
from privacy.pseudonym import Pseudonymiser, pseudonymiser_from_env

DUPLICATE_RULE = "exact_duplicate_of_an_earlier_row"


def rule_failures(source: str, rows: pa.Table, now: datetime) -> tuple[pd.DataFrame, list[str]]:
    """Row-level rule failures (row_index, rule) from the source's expectation suite (Art. 5(1)(d)).

    Exact copies of an earlier row are quarantined too (loading them would double-count).
    Also returns the table-level rules that failed (such as a missing column)."""
    from expectations.validate import validate

    # The rows keep their _source_line column: validate ignores columns named "_...".
    outcome = validate(source, rows, now)
    duplicates = pd.DataFrame({"row_index": outcome.collapsed, "rule": DUPLICATE_RULE})
    return pd.concat([outcome.failures, duplicates], ignore_index=True), outcome.table_failures


@dataclass
class IngestContext:
    paths: Paths
    now: datetime
    keystore: KeyStore
    pseudonymiser: Pseudonymiser
    audit: AuditLog
    # Benchmark only (orchestration.bench): False drops the direct identifiers instead of
    # encrypting them (null in the raw layer) and makes no keys; nothing is written in plain text.
    encryption: bool = True
    _helper: object = field(default=None, repr=False)

    @classmethod
    def open(cls, paths: Paths, now: datetime) -> "IngestContext":
        env = {**os.environ, **paths.environment()}
        audit = paths.audit()
        pseudonymiser = pseudonymiser_from_env(env)  # before the key store: it refuses a new key beside old data
        keystore = KeyStore(paths.keystore, master_key_from_env(env), audit=audit)
        return cls(paths, now, keystore, pseudonymiser, audit)

    @staticmethod
    def new_batch_id() -> str:
        """32 hex digits that sort in creation order (nanosecond clock, then random): the latest load
        of a file is found by (loaded_at, batch_id) even when runs share a simulated `now`."""
        return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"

    def encrypt(self, values: list, subject_ids: list, table: str, column: str) -> list:
        if not self.encryption:
            return [None] * len(values)
        return encrypt_values(values, subject_ids, table, column, self.keystore)

    def validate(self, source: str, rows: pa.Table) -> tuple[pd.DataFrame, list[str]]:
        """``rule_failures`` at this run's time."""
        return rule_failures(source, rows, self.now)

    def helper(self):
        """The helper process that protects half of each large chunk (see `parallel`); None on one core."""
        from orchestration.ingest import parallel

        if self._helper is None and parallel.available():
            self._helper = parallel.Helper(self.paths)
            weakref.finalize(self, self._helper.close)
        return self._helper or None

    def close(self, broken: bool = False) -> None:
        """Stop the helper process, if one was started (also done when the context is collected);
        `broken`: it failed, so do not start another one for this context."""
        if self._helper:
            self._helper.close()
        self._helper = False if broken else None

    def redactor_for(self, table):
        """The free-text redactor with the CRM's known persons (Art. 25), None for a table without free text."""
        from orchestration.ingest.known_persons import redactor_for

        return redactor_for(self.paths, table)
