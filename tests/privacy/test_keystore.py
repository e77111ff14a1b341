"""Per-subject data keys: creation, crypto-shredding, master-key rotation."""

import os
import stat

import pytest

from privacy.crypto import decrypt_values, encrypt_values
from privacy.exceptions import KeyShredded, WrongMasterKey
from privacy.keystore import KeyStore
from privacy.masterkey import FileMasterKey


def test_ensure_creates_each_key_once(keystore, subjects):
    assert keystore.ensure(subjects) == len(subjects)
    assert keystore.ensure(subjects + subjects) == 0
    assert all(keystore.has(s) for s in subjects)
    assert stat.S_IMODE(os.stat(keystore.path).st_mode) == 0o600


def test_data_keys_are_random_not_derived(key_dir, master, subjects):
    # Two stores under one master key give the same subject different keys: nothing is derived.
    a = KeyStore(key_dir / "a.sqlite", master)
    b = KeyStore(key_dir / "b.sqlite", master)
    a.ensure(subjects[:1])
    b.ensure(subjects[:1])
    blob = encrypt_values(["x"], subjects[:1], "t", "c", a)
    with pytest.raises(Exception):
        decrypt_values(blob, subjects[:1], "t", "c", b, purpose="test")


def test_only_pseudonymous_ids_accepted(keystore):
    with pytest.raises(ValueError, match="64 lower-case hex"):
        keystore.ensure(["jan@example.nl"])
    with pytest.raises(ValueError):
        keystore.ensure(["AB" * 32])


def test_shredding_one_subject_leaves_only_its_values_unreadable(keystore, subjects, audit, now):
    keystore.ensure(subjects)
    rows = [s for s in subjects for _ in range(3)]
    values = [f"value-{i}" for i in range(len(rows))]
    blobs = encrypt_values(values, rows, "crm_customers", "email", keystore)
    victim = subjects[2]

    assert keystore.shred(victim, now=now) is True
    assert keystore.shred(victim, now=now) is False
    assert not keystore.has(victim)
    assert keystore.shredded(subjects) == {victim} == keystore.tombstones()

    with pytest.raises(KeyShredded, match="shredded"):
        decrypt_values(blobs, rows, "crm_customers", "email", keystore, purpose="test")
    mine = [i for i, s in enumerate(rows) if s == victim]
    with pytest.raises(KeyShredded):
        decrypt_values([blobs[i] for i in mine], [victim] * 3, "crm_customers", "email", keystore, purpose="t")
    out = decrypt_values(blobs, rows, "crm_customers", "email", keystore, purpose="test", on_shredded="none")
    assert out == [None if s == victim else v for s, v in zip(rows, values)]
    assert [e["event"] for e in audit.entries()][-2:] == ["key_shredded", "key_shredded"]


def test_shredded_subject_is_not_rekeyed(keystore, subjects):
    keystore.ensure(subjects)
    keystore.shred(subjects[0])
    assert keystore.ensure(subjects) == 0
    with pytest.raises(KeyShredded):
        encrypt_values(["new"], subjects[:1], "crm_customers", "email", keystore)


def test_shredded_key_bytes_are_gone_from_the_file(keystore, subjects):
    keystore.ensure(subjects)
    victim = subjects[0]
    wrapped = keystore._db.execute("select wrapped from data_keys where subject_id = ?",
                                   (bytes.fromhex(victim),)).fetchone()[0]
    keystore.shred(victim)
    files = [p for p in keystore.path.parent.iterdir() if p.name.startswith(keystore.path.name)]
    assert all(wrapped not in p.read_bytes() for p in files)


def test_rotation_rewraps_and_old_master_stops_working(keystore, key_dir, subjects, audit, now):
    keystore.ensure(subjects)
    blobs = encrypt_values(["a", "b", "c", "d", "e"], subjects, "crm_customers", "email", keystore)
    old_id = keystore._master.key_id
    new = FileMasterKey(key_dir / "master-2.key")

    assert keystore.rotate_master(new, now=now) == len(subjects)
    assert decrypt_values(blobs, subjects, "crm_customers", "email", keystore, purpose="t") == list("abcde")
    keystore.close()

    with KeyStore(keystore.path, new) as reopened:
        assert decrypt_values(blobs, subjects, "crm_customers", "email", reopened, purpose="t") == list("abcde")
    with pytest.raises(WrongMasterKey, match=f"not by the given master key {old_id}: give the master key {new.key_id}"):
        KeyStore(keystore.path, FileMasterKey(key_dir / "master.key"))
    assert any(e["event"] == "master_key_rotated" and e["details"]["count"] == 5 for e in audit.entries())


def test_rotation_to_same_master_is_refused(keystore, master):
    with pytest.raises(ValueError):
        keystore.rotate_master(master)


def test_a_process_holding_the_store_makes_no_keys_after_another_rotated_the_master(keystore, key_dir, master, subjects):
    """Security review: a run open during `klantkluis rotate-master-key` wrapped new keys under the old
    master key, which the store no longer accepts: that subject's data was lost without a word."""
    keystore.ensure(subjects[:2])
    with KeyStore(keystore.path, master) as rotating:
        rotating.rotate_master(FileMasterKey(key_dir / "master-2.key"))
    with pytest.raises(WrongMasterKey, match="was rotated to .* while this process held"):
        keystore.ensure(subjects[2:])
    assert keystore.ensure(subjects[:2]) == 0  # no new key needed: nothing to refuse


def test_a_store_open_to_others_is_closed_when_opened(keystore, master):
    """Security review: a keys folder at 0755 and a key store at 0644 (copied in, an older version)
    were accepted as they were."""
    keystore.close()
    os.chmod(keystore.path, 0o644)
    os.chmod(keystore.path.parent, 0o755)
    with KeyStore(keystore.path, master):
        assert stat.S_IMODE(os.stat(keystore.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(keystore.path.parent).st_mode) == 0o700


def test_withdrawals_are_kept_until_their_rule_or_their_subjects_key_goes(keystore, subjects, now):
    from datetime import timedelta

    keystore.ensure(subjects)
    events = [{"event_id": f"R{i}-marketing_email", "subject_id": s, "request_id": f"R{i}", "purpose": "marketing_email",
               "occurred_at": (now - timedelta(days=i)).replace(tzinfo=None).isoformat(timespec="seconds"),
               "notice_version": "2025.1"} for i, s in enumerate(subjects)]
    keystore.keep_withdrawals(events)
    keystore.keep_withdrawals(events[:1])  # a request processed again keeps one copy
    assert keystore.withdrawals() == sorted(events, key=lambda e: e["occurred_at"])
    keystore.shred(subjects[0], now=now)  # erased: the tombstone says more
    keystore.retire([subjects[1]])  # no row left
    assert [e["subject_id"] for e in keystore.withdrawals()] == subjects[:1:-1]
    assert keystore.expire_withdrawals(now - timedelta(days=3, hours=1)) == 1  # the one 4 days ago
    assert [e["subject_id"] for e in keystore.withdrawals()] == [subjects[3], subjects[2]]


def test_a_key_store_another_process_holds_is_not_called_unwritable(key_dir, master, monkeypatch):
    """Diff review: a lock held past the 30 s timeout was reported as a permissions problem."""
    import sqlite3

    from privacy.exceptions import KeyFileError

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(sqlite3, "connect", locked)
    with pytest.raises(KeyFileError, match="held by another process for more than 30 s"):
        KeyStore(key_dir / "keystore.sqlite", master)
