"""Fixtures for the privacy library: keys and state always in a temporary directory."""

from datetime import datetime, timezone

import pytest

from privacy.audit import AuditLog
from privacy.keystore import KeyStore
from privacy.masterkey import FileMasterKey
from privacy.pseudonym import Pseudonymiser

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def key_dir(tmp_path):
    return tmp_path / "keys"


@pytest.fixture
def master(key_dir):
    return FileMasterKey(key_dir / "master.key")


@pytest.fixture
def audit(tmp_path, key_dir):
    return AuditLog(tmp_path / "state" / "audit.jsonl", key_dir=key_dir)


@pytest.fixture
def keystore(key_dir, master, audit):
    with KeyStore(key_dir / "keystore.sqlite", master, audit=audit) as store:
        yield store


@pytest.fixture
def pseudonymiser():
    return Pseudonymiser(bytes(range(32)))


@pytest.fixture
def subjects(pseudonymiser):
    return pseudonymiser.subject_ids("customer", [f"C{i:07d}" for i in range(1, 6)])
