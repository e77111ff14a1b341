"""The demo free-text generator: determinism, valid identifiers, truthful spans, look-alikes."""

import re
import time

import numpy as np
import pandas as pd
import pytest

from orchestration.demo.identifiers import bsn, iban, national, phone, render_phone
from orchestration.demo.texts import make_texts
from orchestration.redaction_eval import people
from privacy.identifiers import name_key
from privacy.recognizers import elfproef, iban_ok


@pytest.fixture(scope="module")
def crm():
    return people(np.random.default_rng(3), 200, "c")


def test_deterministic_by_seed(crm):
    a = make_texts(np.random.default_rng(11), crm, crm, 300, "interaction")
    b = make_texts(np.random.default_rng(11), crm, crm, 300, "interaction")
    c = make_texts(np.random.default_rng(12), crm, crm, 300, "interaction")
    assert a == b and a != c


def test_vectorised_identifiers_are_valid():
    rng = np.random.default_rng(0)
    assert all(elfproef(v) and len(v) == 9 for v in bsn(rng, 5000))
    assert all(iban_ok(v) and re.fullmatch(r"NL\d\d[A-Z]{4}\d{10}", v) for v in iban(rng, 5000))
    numbers = phone(rng, 5000)
    assert all(national(v) == v for v in numbers)
    assert all(national(render_phone(v, s)) == v for v in numbers[:100] for s in range(10))


def test_spans_point_at_planted_values(crm):
    docs = make_texts(np.random.default_rng(5), crm, crm, 1500, "interaction")
    names = {name_key(form) for r in crm.itertuples()
             for form in (f"{r.first_name} {r.last_name}", r.last_name, r.first_name, f"{r.first_name[0]} {r.last_name}")}
    seen = set()
    for d in docs:
        assert d["language"] in ("nl", "en") and d["channel"] in ("call", "email", "chat")
        for s in d["spans"]:
            v, e = d["text"][s["start"]:s["end"]], s["entity"]
            seen.add(e)
            assert v == v.strip() and v
            assert {"EMAIL_ADDRESS": lambda: "@" in v, "IBAN_CODE": lambda: iban_ok(v), "NL_BSN": lambda: elfproef(v),
                    "PHONE_NUMBER": lambda: national(v) is not None,
                    "NL_POSTCODE": lambda: re.search(r"\d{4} ?[A-Z]{2}", v),
                    "DATE_OF_BIRTH": lambda: re.search(r"19\d\d|200\d", v),
                    "PERSON": lambda: name_key(v) in names}[e](), (e, v)
    assert seen == {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "NL_BSN", "NL_POSTCODE", "DATE_OF_BIRTH"}


def test_owner_rows_third_persons_and_lookalikes(crm):
    docs = make_texts(np.random.default_rng(6), crm, crm, 1000, "interaction")
    assert [d["owner_index"] for d in docs[:3]] == [0, 1, 2]  # row i is about owners row i % len(owners)
    text = " ".join(d["text"] for d in docs)
    for lookalike in (r"\bO\d{9}\b", r"€ [\d.]+,\d\d|EUR [\d,]+\.\d\d", r"SKU-\d{4}", r"\b\d{4} [A-Z]{2} is\b",
                      r"(?:Factuurnummer|Invoice number) \d{9}", r"klantenservice@|noreply@|support@"):
        assert re.search(lookalike, text), lookalike
    others = sum(any(d["text"].count(f"{r.first_name} {r.last_name}") for r in crm.itertuples()
                     if r.Index != d["owner_index"]) for d in docs[:200])
    assert others > 20  # third persons from the CRM are mentioned


def test_nps_comments_and_missing_columns():
    owners = pd.DataFrame({"first_name": ["Emma"], "last_name": ["de Jong"]})  # a sparse table still works
    docs = make_texts(np.random.default_rng(1), owners, owners.iloc[:0], 200, "nps")
    assert all(d["text"] and d["channel"] == "nps" for d in docs)
    with pytest.raises(ValueError):
        make_texts(np.random.default_rng(1), owners, owners, 1, "letter")


def test_generation_is_fast(crm):
    start = time.process_time()
    make_texts(np.random.default_rng(2), crm, crm, 10_000, "interaction")
    assert time.process_time() - start < 2.5  # 100 k texts take a few seconds
