"""Vectorised makers of valid Dutch identifiers for the demo data (IBAN, BSN, phone, postcode).

Valid checksums matter: the expectation suites reject invalid IBANs and BSNs, so demo data must
pass them unless a defect is injected on purpose.
"""

import numpy as np

from orchestration.demo.names import BANK_CODES

_LETTERS = np.array(list("ABCEGHJKLMNPRTVWXZ"))


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return rng.integers(0, 10, size=(n, width))


def iban(rng: np.random.Generator, n: int, spaced: bool = False) -> list[str]:
    """Dutch IBANs (NLkk BBBB 0123456789) with a correct ISO 13616 mod-97 check."""
    banks = rng.choice(np.array(BANK_CODES), size=n)
    accounts = ["".join(map(str, row)) for row in _digits(rng, n, 10)]
    out = []
    for bank, account in zip(banks, accounts):
        numeric = "".join(str(int(c, 36)) for c in bank) + account + "232100"  # "NL00" moved to the end
        check = 98 - int(numeric) % 97
        value = f"NL{check:02d}{bank}{account}"
        out.append(" ".join(value[i:i + 4] for i in range(0, 18, 4)) if spaced else value)
    return out


def bsn(rng: np.random.Generator, n: int) -> list[str]:
    """Nine-digit BSNs that pass the elfproef (sum of d_i * w_i, w = 9..2 and -1, divisible by 11)."""
    weights = np.array([9, 8, 7, 6, 5, 4, 3, 2])
    out: list[str] = []
    while len(out) < n:
        head = _digits(rng, 2 * (n - len(out)) + 10, 8)
        head[:, 0] = rng.integers(1, 10, size=len(head))
        last = (head @ weights) % 11
        ok = last <= 9
        out.extend("".join(map(str, h)) + str(d) for h, d in zip(head[ok], last[ok]))
    return out[:n]


def phone(rng: np.random.Generator, n: int) -> list[str]:
    """Dutch phone numbers in the formats people actually type (mobile and landline)."""
    digits = _digits(rng, n, 8)
    style = rng.integers(0, 5, size=n)
    area = rng.choice(np.array(["20", "10", "30", "40", "50", "70", "71", "43"]), size=n)
    out = []
    for d, s, a in zip(digits, style, area):
        body = "".join(map(str, d))
        out.append((
            f"06-{body}", f"06{body}", f"+31 6 {body}", f"0{a}-{body[:7]}", f"+31{a}{body[:7]}",
        )[s])
    return out


def postcode(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> list[str]:
    """Postcodes "1234 AB" with the four digits drawn within each row's city range."""
    n = len(low)
    area = rng.integers(low, high + 1)
    letters = rng.choice(_LETTERS, size=(n, 2))
    return [f"{a} {l1}{l2}" for a, (l1, l2) in zip(area, letters)]
