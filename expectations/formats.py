"""Formats, value sets and parsers behind the expectation suites (GDPR Art. 5(1)(d), accuracy).

Plain Python and pandas, no Great Expectations import: the suites, the custom expectations and
the row-level validation all read the same constants here, so each format is written once.
Regexes end in `\\Z`, not `$`: `$` would also accept a value with a trailing newline, and CSV
exports do carry newlines inside quoted fields.
"""

from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

POLICY_PATH = Path(__file__).resolve().parent.parent / "privacy" / "policy.yml"

# Keys come from the user's own systems: any short code of letters, digits and . _ : / - (no
# spaces, quotes or control characters, which point at a shifted or damaged line).
KEY = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}\Z"
CUSTOMER_ID = ORDER_ID = LEAD_ID = KEY
ACCOUNT_MANAGER = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,31}\Z"
# Deliberately loose: one @, no spaces, a dot in the domain, a 2+ letter top-level domain.
# Stricter RFC 5322 patterns reject real addresses and still cannot prove deliverability.
EMAIL = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\Z"
# +31 / 0031 / 0, then nine digits of which the first is not 0, single spaces or dashes between:
# covers "06-12345678", "0612345678", "+31 6 12345678", "020-1234567", "+31201234567".
# +31 / 0031 / 0, an optional "(0)" or "(0xx)" area in brackets, nine digits with spaces or dashes.
PHONE_NL = r"^(?:(?:\+31|0031)[ -]?(?:\(0\)[ -]?)?|\(?0)[1-9](?:[ -]{0,3}\)?[ -]{0,3}\d){8}\Z"
# PostNL never issues SA, SD or SS as letter pairs, and the first digit is never 0.
POSTCODE_NL = r"^[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}\Z"
# Two decimals at most: amounts are euros with cents; anything else was mangled by an export.
AMOUNT = r"^-?\d{1,12}(?:\.\d{1,2})?\Z"
INTEGER = r"^\d{1,3}\Z"

DATE_FORMAT = "%Y-%m-%d"
TIMESTAMP_FORMAT = "ISO8601"

MAX_AMOUNT = 100_000.0  # EUR per order line: above this an extra digit slipped in, not a sale
MIN_DATE = datetime(1990, 1, 1, tzinfo=timezone.utc)  # oldest business event we accept
MIN_BIRTH_DATE = datetime(1900, 1, 1, tzinfo=timezone.utc)
MIN_CUSTOMER_AGE_YEARS = 16  # Art. 8 GDPR, art. 5 UAVG: under 16 no consent of their own, so no customer

GENDERS = ["F", "M", "X"]
CUSTOMER_STATUSES = ["active", "ended"]
ORDER_CHANNELS = ["web", "phone", "store", "field"]
PAYMENT_METHODS = ["ideal", "creditcard", "direct_debit", "invoice"]
LEAD_STAGES = ["prospect", "suspect"]
CONSENT_ACTIONS = ["granted", "withdrawn"]
INTERACTION_CHANNELS = ["call", "email", "chat"]
DIRECTIONS = ["inbound", "outbound"]
LANGUAGES = ["nl", "en"]


@lru_cache(maxsize=4)
def consent_purposes(policy_path: Path = POLICY_PATH) -> list[str]:
    """Consent purposes a subject can grant or withdraw, from the written policy (Art. 7(1))."""
    with Path(policy_path).open(encoding="utf-8") as f:
        return sorted(yaml.safe_load(f)["consent_purposes"])


def utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime; naive values are taken to be UTC already."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def years_before(moment: datetime, years: int) -> datetime:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def parse_datetimes(values: pd.Series, fmt: str) -> pd.Series:
    """Aware UTC timestamps; NaT where a value is missing or is no real date (2023-02-30)."""
    return pd.to_datetime(values, format=fmt, errors="coerce", utc=True)


def parse_numbers(values: pd.Series) -> pd.Series:
    """Floats; NaN where a value is missing or not a number (the regex rule reports those)."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


_IBAN_DIGITS = str.maketrans({c: str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def iban_is_valid(values: pd.Series) -> pd.Series:
    """ISO 13616 structure and mod-97 check per value (spaces allowed); True/False, NaN kept out.

    The checksum catches every single-character typo and most transpositions, which a regex
    cannot: a wrong account number would send refunds and direct debits to someone else.
    """
    compact = values.str.replace(" ", "", regex=False).str.upper()
    shaped = compact.str.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", na=False).to_numpy(dtype=bool)
    out = np.zeros(len(values), dtype=bool)
    if shaped.any():
        # Distinct values only: the same IBAN recurs in every delta export of a customer.
        candidates = compact[shaped]
        ok = {v: int((v[4:] + v[:4]).translate(_IBAN_DIGITS)) % 97 == 1 for v in candidates.unique()}
        out[shaped] = candidates.map(ok).to_numpy(dtype=bool)
    return pd.Series(out, index=values.index)
