"""Keyed pseudonyms: exactly HMAC-SHA256, separated by kind, stable, vectorised."""

import hashlib
import hmac

import pytest

from privacy.pseudonym import Pseudonymiser

KEY = bytes(range(32))


def test_subject_id_is_hmac_sha256_of_kind_and_key():
    expected = hmac.new(KEY, b"customer:C0000001", hashlib.sha256).hexdigest()
    assert Pseudonymiser(KEY).subject_id("customer", "C0000001") == expected
    assert Pseudonymiser(KEY).subject_id("customer", " C0000001 ") == expected


def test_long_keys_follow_rfc_2104():
    key = bytes(range(100))
    assert Pseudonymiser(key).subject_id("lead", "L1") == hmac.new(key, b"lead:L1", hashlib.sha256).hexdigest()


def test_kinds_and_keys_give_different_ids():
    p = Pseudonymiser(KEY)
    assert p.subject_id("customer", "1") != p.subject_id("lead", "1")
    assert p.subject_id("customer", "1") != Pseudonymiser(bytes(32)).subject_id("customer", "1")
    with pytest.raises(ValueError):
        p.subject_id("employee", "1")


def test_vectorised_matches_single_and_keeps_none():
    p = Pseudonymiser(KEY)
    keys = ["C1", None, "C2", "C1"]
    out = p.subject_ids("customer", keys)
    assert out == [p.subject_id("customer", "C1"), None, p.subject_id("customer", "C2"), p.subject_id("customer", "C1")]


def test_blind_index_normalises_email():
    p = Pseudonymiser(KEY)
    assert p.lookup_hmac("  Jan.Jansen@Example.NL ") == p.lookup_hmac("jan.jansen@example.nl")
    assert p.lookup_hmac("jan.jansen@example.nl") == hmac.new(KEY, b"email:jan.jansen@example.nl",
                                                              hashlib.sha256).hexdigest()
    assert p.lookup_hmacs([None, "a@example.nl"])[0] is None


def test_short_key_refused():
    with pytest.raises(ValueError):
        Pseudonymiser(b"too short")
