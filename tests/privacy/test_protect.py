"""protect(): the landing rows that reach the raw layer hold no plaintext personal data."""

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from privacy.classification import load_classification
from privacy.crypto import decrypt_columns
from privacy.exceptions import KeyShredded
from privacy.ingest import age_bands, protect
from privacy.tables import BOOKKEEPING

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
NAMES = ["Jan", "Sanne", "Mohammed"]
SURNAMES = ["Jansen", "de Vries", "El Amrani"]
EMAILS = ["jan.jansen@example.nl", "sanne@voorbeeld.nl", "m.elamrani@example.com"]


@pytest.fixture(scope="module")
def classification():
    return load_classification(DBT_PROJECT)


@pytest.fixture
def customers():
    return pd.DataFrame({
        "customer_id": ["C0000001", "C0000002", "C0000003"], "first_name": NAMES, "last_name": SURNAMES,
        "email": EMAILS, "phone": ["0612345678", "", "+31201234567"],
        "birth_date": ["1985-07-01", "1985-06-30", "not a date"], "gender": ["M", "F", "X"],
        "street": ["Dorpsstraat", "Kerkweg", "Markt"], "house_number": ["1", "22a", "3"],
        "postcode": ["1234 AB", "9876cd", "bogus"], "city": ["Utrecht", "Zwolle", "Gouda"],
        "iban": ["NL91" "ABNA" "0417164300"] * 3, "status": ["active", "active", "ended"],
        "customer_since": ["2020-01-01"] * 3, "relationship_end": ["", "", "2024-01-01"],
        "account_manager": ["AM01", "AM02", "AM01"], "exported_at": ["2025-06-30T06:00:00"] * 3,
    }, index=[10, 11, 12])


def test_output_has_no_plaintext_email_or_name(classification, customers, keystore, pseudonymiser, now):
    table = classification.table("crm_customers", "source")
    out = protect(table, customers, keystore=keystore, pseudonymiser=pseudonymiser, now=now)

    assert list(out.columns) == [c.name for c in table.columns if c.name not in BOOKKEEPING]
    assert list(out.index) == [10, 11, 12]
    dump = out.to_csv() + repr(out.to_dict())
    for secret in NAMES + SURNAMES + EMAILS + ["C0000001", "0612345678", "NL91" "ABNA" "0417164300", "1985-07-01"]:
        assert secret not in dump
    assert all(isinstance(v, bytes) for v in out["email"])
    assert out["phone"].tolist()[1] is None
    assert out["subject_id"].tolist() == pseudonymiser.subject_ids("customer", customers["customer_id"])
    assert out["age_band"].tolist() == ["30-39", "40-49", None]  # 1985-07-01 turns 40 after 2025-06-30
    assert out["postcode_area"].tolist() == ["1234", "9876", None]
    assert out["relationship_end"].tolist() == [None, None, "2024-01-01"]

    back = decrypt_columns({"email": out["email"].tolist(), "first_name": out["first_name"].tolist()},
                           out["subject_id"].tolist(), "crm_customers", keystore, purpose="test")
    assert back == {"email": EMAILS, "first_name": NAMES}


def test_free_text_is_redacted_and_encrypted(classification, keystore, pseudonymiser, now):
    table = classification.table("interactions", "source")
    df = pd.DataFrame({"interaction_id": ["I1", "I2"], "customer_id": ["C0000001", "C0000001"],
                       "channel": ["call", "chat"], "direction": ["inbound"] * 2, "language": ["nl", "en"],
                       "occurred_at": ["2025-06-01T10:00:00"] * 2, "text": ["Jan Jansen belde over 1234 AB", ""]})
    with pytest.raises(ValueError, match="redactor"):
        protect(table, df, keystore=keystore, pseudonymiser=pseudonymiser, now=now)
    seen = []

    def redactor(texts):
        seen.append(list(texts))
        return [t.replace("Jan Jansen", "<PERSON>") for t in texts]

    out = protect(table, df, keystore=keystore, pseudonymiser=pseudonymiser, redactor=redactor, now=now)
    assert seen == [["Jan Jansen belde over 1234 AB"]]
    assert out["text_redacted"].tolist() == ["<PERSON> belde over 1234 AB", None]
    assert isinstance(out["text"].iloc[0], bytes) and out["text"].iloc[1] is None


def test_missing_landing_column_and_subject_key(classification, customers, keystore, pseudonymiser, now):
    table = classification.table("crm_customers", "source")
    with pytest.raises(ValueError, match=r"lacks columns \['email'\]"):
        protect(table, customers.drop(columns="email"), keystore=keystore, pseudonymiser=pseudonymiser, now=now)
    customers.loc[11, "customer_id"] = ""
    with pytest.raises(ValueError, match="1 row"):
        protect(table, customers, keystore=keystore, pseudonymiser=pseudonymiser, now=now)


def test_erased_subjects_are_refused(classification, customers, keystore, pseudonymiser, now):
    table = classification.table("crm_customers", "source")
    protect(table, customers, keystore=keystore, pseudonymiser=pseudonymiser, now=now)
    keystore.shred(pseudonymiser.subject_id("customer", "C0000002"))
    mask = customers["customer_id"] != "C0000002"
    with pytest.raises(KeyShredded):
        protect(table, customers, keystore=keystore, pseudonymiser=pseudonymiser, now=now)
    assert len(protect(table, customers[mask], keystore=keystore, pseudonymiser=pseudonymiser, now=now)) == 2


def test_tables_without_encryption_need_no_keys(classification, keystore, pseudonymiser, now):
    table = classification.table("orders", "source")
    df = pd.DataFrame({"order_id": ["O1"], "customer_id": ["C0000001"], "order_date": ["2025-01-01"],
                       "amount": ["10.00"], "margin": ["2.50"], "product_category": ["books"],
                       "channel": ["web"], "payment_method": ["ideal"]})
    out = protect(table, df, keystore=keystore, pseudonymiser=pseudonymiser, now=now)
    assert out.iloc[0].to_dict()["amount"] == "10.00"
    assert not keystore.has(out["subject_id"].iloc[0])


def test_age_bands_at_a_given_date():
    bands = age_bands(pd.Series(["2000-02-29", "2000-03-01", "1900-01-01", "2031-01-01", None]), now=date(2030, 2, 28))
    assert bands.tolist()[:2] == ["20-29", "20-29"] and pd.isna(bands).tolist()[2:] == [True, True, True]
    assert age_bands(pd.Series(["2000-02-29"]), now=date(2030, 3, 1)).tolist() == ["30-39"]
