"""Formats, value sets and parsers behind the expectation suites (GDPR Art. 5(1)(d), accuracy).

Plain Python and pandas, no Great Expectations import: the suites, the custom expectations and
the row-level validation all read the same constants here, so each format is written once.
Regexes end in `\\Z`, not `$`: `$` would also accept a value with a trailing newline, and CSV
exports do carry newlines inside quoted fields.
"""

from datetime import datetime, timezone
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privacy.identifiers import EMAIL, IBAN, IBAN_MAX_LENGTH, KEY  # noqa: F401 (EMAIL: used by the suites)
from privacy.policy import load_policy

CUSTOMER_ID = ORDER_ID = LEAD_ID = KEY
ACCOUNT_MANAGER = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,31}\Z"
# +31 / 0031 / 0, an optional "(0)" or "(0xx)" area in brackets, nine digits with spaces or dashes.
PHONE_NL = r"^(?:(?:\+31|0031)[ -]?(?:\(0\)[ -]?)?|\(?0)[1-9](?:[ -]{0,3}\)?[ -]{0,3}\d){8}\Z"
# PostNL never issues SA, SD or SS as letter pairs, and the first digit is never 0.
POSTCODE_NL = r"^[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}\Z"
# Two decimals at most: amounts are euros with cents; anything else was mangled by an export.
AMOUNT = r"^-?\d{1,12}(?:\.\d{1,2})?\Z"
INTEGER = r"^\d{1,3}\Z"
# What each form above asks, in words to fix an export by (`klantkluis check`); AMOUNT's example
# follows the source's csv `decimal` setting.
FORM_TERMS = {KEY: "1 to 64 letters, digits and . _ : / -, starting with a letter or digit",
              EMAIL: "an e-mail address (name@example.nl)",
              PHONE_NL: "a Dutch phone number with its leading 0, +31 or 0031 (0XX XXX XXXX, 06-XXXXXXXX, +31 6 XXXXXXXX)",
              POSTCODE_NL: "a Dutch postcode (1234 AB)",
              ACCOUNT_MANAGER: "a code of 1 to 32 letters, digits, spaces and . _ - (AM01)",
              AMOUNT: "a number with at most two decimals ({example})",
              INTEGER: "a whole number, without decimals"}

DATE_FORMAT = "%Y-%m-%d"
TIMESTAMP_FORMAT = "ISO8601"
# The ISO 8601 times the warehouse reads (staging's utc_timestamp macro, the retention sweep): a
# date, or a date and hh:mm[:ss[.f]], and an offset (Z, +01, +0100, +01:00) only after seconds.
# pandas reads more ('2026-01-01T10:00Z', '20260101', '... 10:00:00 Z'); such a value is quarantined
# here, instead of loading and then stopping every dbt build at the staging cast.
ISO_TIMESTAMP = (r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{2}:\d{2}"
                 r"(?:|:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?))?$")  # RE2 (Arrow): $ is the end

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


@lru_cache(maxsize=1)
def consent_purposes() -> list[str]:
    """Consent purposes a subject can grant or withdraw, from the written policy (Art. 7(1))."""
    return sorted(load_policy().consent_purposes)


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
    """Aware UTC timestamps; NaT where a value is missing or is no real date (2023-02-30), and
    for "ISO8601" where it has a form the warehouse does not read (ISO_TIMESTAMP)."""
    parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    if fmt != TIMESTAMP_FORMAT:
        return parsed
    shaped = pc.fill_null(pc.match_substring_regex(pa.array(values.to_numpy(dtype=object), pa.string(), from_pandas=True),
                                                   ISO_TIMESTAMP), False).to_numpy(zero_copy_only=False)
    return parsed.where(shaped)


def parse_numbers(values: pd.Series) -> pd.Series:
    """Floats; NaN where a value is missing or not a number (the regex rule reports those)."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


def iban_is_valid(values: pd.Series) -> pd.Series:
    """`privacy.identifiers.iban_ok` per value (spaces allowed, any case); True/False. A wrong
    account number would send refunds and direct debits to someone else.

    Vectorised: the mod-97 remainder of every value is computed one character position at a
    time over all values at once (1 M IBANs: 4.5 to 5.1 s one value at a time, 1.3 s this way);
    `tests/expectations` compares it with `iban_ok` value by value."""
    compact = pc.utf8_upper(pc.replace_substring(pa.array(values.to_numpy(dtype=object), pa.string(),
                                                          from_pandas=True), " ", ""))
    shaped = pc.fill_null(pc.match_substring_regex(compact, f"^{IBAN}$"), False).to_numpy(zero_copy_only=False)
    out = np.zeros(len(values), dtype=bool)
    if shaped.any():
        out[shaped] = _mod97(compact.filter(pa.array(shaped))) == 1
    return pd.Series(out, index=values.index)


def _mod97(ibans: pa.Array) -> np.ndarray:
    """ISO 13616 remainder of IBANs of ASCII letters and digits: the first four characters moved
    to the end, each letter read as two digits (A = 10 ... Z = 35), the number taken mod 97."""
    width = IBAN_MAX_LENGTH
    lengths = pc.utf8_length(ibans).to_numpy(zero_copy_only=False)
    padded = pc.utf8_rpad(ibans, width, "0")
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset:padded.offset + len(padded) + 1]
    chars = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(len(padded), width)
    remainder = np.zeros(len(padded), dtype=np.int64)
    for position in [*range(4, width), *range(4)]:
        char = chars[:, position].astype(np.int64)
        letter = char >= ord("A")
        value = np.where(letter, char - (ord("A") - 10), char - ord("0"))
        step = np.where(letter, (remainder * 100 + value) % 97, (remainder * 10 + value) % 97)
        remainder = np.where(position < lengths, step, remainder) if position >= 4 else step
    return remainder
