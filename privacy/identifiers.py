"""The accepted forms of the identifiers a data subject is known by: natural keys and e-mail addresses.

Defined once here, so a landing row (validated in `expectations`) and a data subject request
(`privacy.rights.requests`) accept the same identifiers: a customer whose key loads can also
file a request with it (Art. 5(1)(d) accuracy, Art. 12(2) facilitating the exercise of rights). The IBAN check
is shared the same way by the landing rules and the free-text redaction, and the form a person's
name is looked up in by the redaction and the blind name index of access exports.
"""

import re

# Keys come from the user's own systems: any short code of letters, digits and . _ : / - (no
# spaces, quotes or control characters, which point at a shifted or damaged line).
KEY = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}\Z"
# Deliberately loose: one @, no spaces, a dot in the domain, a 2+ letter top-level domain.
# Stricter RFC 5322 patterns reject real addresses and still cannot prove deliverability.
EMAIL = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\Z"

# An IBAN written without spaces, in upper case (ISO 13616): country, check digits, 11-30 more,
# ASCII only (`\d` would also take other scripts' digits).
IBAN = r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}"
IBAN_MAX_LENGTH = 34
_IBAN = re.compile(IBAN)
_IBAN_DIGITS = str.maketrans({c: str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def iban_ok(compact: str) -> bool:
    """ISO 13616 shape and mod-97 check of an IBAN without spaces, in upper case. The checksum
    catches every single-character typo and most transpositions, which a regex cannot."""
    return bool(_IBAN.fullmatch(compact)) and int((compact[4:] + compact[:4]).translate(_IBAN_DIGITS)) % 97 == 1


# The words of a name or a text: letters, with an apostrophe inside a word ("D'Souza").
NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def name_key(name: str) -> str:
    """'Jan-Willem de Vries' -> 'jan willem de vries': the form names are looked up in."""
    s = str(name).lower().strip()
    if s.replace(" ", "").isalpha() and "  " not in s:  # fast path for 1 M plain names
        return s
    return " ".join(NAME_TOKEN.findall(s))
