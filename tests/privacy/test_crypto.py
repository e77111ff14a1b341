"""Column encryption: associated data binds subject, table and column; nonces never repeat."""

import pytest

from privacy._keys import NONCE_SIZE, TAG_SIZE
from privacy.crypto import BLOCK, decrypt_columns, decrypt_values, encrypt_columns, encrypt_values
from privacy.exceptions import InvalidCiphertext, MissingKey


def test_round_trip_keeps_none_and_unicode(keystore, subjects):
    keystore.ensure(subjects)
    values = ["jan@example.nl", None, "Zoë Çelik", "", "x" * 1000]
    blobs = encrypt_values(values, subjects, "crm_customers", "email", keystore)
    assert blobs[1] is None
    assert all(len(b) == NONCE_SIZE + (len(v.encode()) // BLOCK + 1) * BLOCK + TAG_SIZE
               for b, v in zip(blobs, values) if v is not None)
    assert decrypt_values(blobs, subjects, "crm_customers", "email", keystore, purpose="test") == values


def test_a_ciphertext_tells_no_exact_length_and_one_written_before_padding_still_decrypts(keystore, subjects):
    """Security review: a ciphertext's length was the value's plus 28 bytes, so the lengths of the
    names and address, beside the plain city, gender and age band, singled out 464 of 472 demo
    customers for anyone reading the warehouse file (Art. 32(1), 4(5))."""
    keystore.ensure(subjects)
    names = ["Jan", "Ed", "Alexandra", "Zoë Çelik", "Nguyễn", "x\x80", "nul\0"]
    blobs = encrypt_values(names, subjects[:1] * len(names), "crm_customers", "first_name", keystore)
    assert {len(b) for b in blobs} == {NONCE_SIZE + BLOCK + TAG_SIZE}
    assert decrypt_values(blobs, subjects[:1] * len(names), "crm_customers", "first_name", keystore,
                          purpose="test") == names
    cipher = keystore.ciphers({subjects[0]: [0]})[subjects[0]]  # as the version before padding wrote it
    nonce = bytes(NONCE_SIZE)
    before = nonce + cipher.encrypt(nonce, "Jan".encode(), f"{subjects[0]}|crm_customers|first_name".encode())
    assert decrypt_values([before, blobs[1]], subjects[:1] * 2, "crm_customers", "first_name", keystore,
                          purpose="test") == ["Jan", "Ed"]
    with pytest.raises(InvalidCiphertext):  # and it is bound as before
        decrypt_values([before], subjects[:1], "crm_customers", "last_name", keystore, purpose="test")


@pytest.mark.parametrize("where", ["table", "column", "subject"])
def test_wrong_associated_data_fails(keystore, subjects, where):
    keystore.ensure(subjects)
    blobs = encrypt_values(["secret"], subjects[:1], "crm_customers", "email", keystore)
    table, column, sids = {"table": ("leads", "email", subjects[:1]),
                           "column": ("crm_customers", "phone", subjects[:1]),
                           "subject": ("crm_customers", "email", subjects[1:2])}[where]
    with pytest.raises(InvalidCiphertext, match="failed authentication"):
        decrypt_values(blobs, sids, table, column, keystore, purpose="test")


def test_tampered_value_fails(keystore, subjects):
    keystore.ensure(subjects)
    blob = encrypt_values(["secret"], subjects[:1], "t", "c", keystore)[0]
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(InvalidCiphertext):
        decrypt_values([flipped], subjects[:1], "t", "c", keystore, purpose="test")


def test_nonces_never_repeat(keystore, subjects):
    keystore.ensure(subjects)
    rows = [subjects[i % len(subjects)] for i in range(20_000)]
    blobs = encrypt_values(["same value"] * len(rows), rows, "t", "c", keystore)
    blobs += encrypt_columns({"c": ["same value"] * len(rows)}, rows, "t", keystore)["c"]
    assert len({b[:NONCE_SIZE] for b in blobs}) == len(blobs)
    assert len(set(blobs)) == len(blobs)


def test_missing_key_is_a_clear_error(keystore, subjects):
    with pytest.raises(MissingKey, match="ensure"):
        encrypt_values(["x"], subjects[:1], "t", "c", keystore)
    assert encrypt_values([None], subjects[:1], "t", "c", keystore) == [None]


def test_value_without_subject_is_refused(keystore, subjects):
    keystore.ensure(subjects)
    with pytest.raises(ValueError, match="without a subject"):
        encrypt_values(["x"], [None], "t", "c", keystore)
    with pytest.raises(ValueError, match="values for"):
        encrypt_values(["x", "y"], subjects[:1], "t", "c", keystore)


def test_decryption_is_audited_without_values(keystore, subjects, audit, now):
    keystore.ensure(subjects)
    cols = encrypt_columns({"email": ["a@example.nl", "b@example.nl"], "phone": ["0612345678", None]},
                           subjects[:2], "crm_customers", keystore)
    decrypt_columns(cols, subjects[:2], "crm_customers", keystore, purpose="access_request",
                    audit=audit, actor="dpo", now=now)
    decrypt_values(cols["email"][:1], subjects[:1], "crm_customers", "email", keystore,
                   purpose="access_request", audit=audit, now=now)
    *_, many, one = audit.entries()
    assert many["event"] == "decrypt" and many["actor"] == "dpo"
    assert many["details"] == {"table": "crm_customers", "columns": ["email", "phone"], "purpose": "access_request",
                               "count": 3, "subjects": 2}
    assert one["details"]["subject_id"] == subjects[0] and one["details"]["count"] == 1
    text = audit.path.read_text()
    assert "a@example.nl" not in text and "0612345678" not in text
    assert audit.verify().ok


def test_decryption_needs_a_purpose(keystore, subjects):
    with pytest.raises(ValueError, match="purpose"):
        decrypt_values([None], subjects[:1], "t", "c", keystore, purpose="")
