"""Vectorised makers of valid Dutch identifiers for the demo data (IBAN, BSN, phone, postcode).

Valid checksums matter: the expectation suites reject invalid IBANs and BSNs, so demo data must
pass them unless a defect is injected on purpose.
"""

import re

import numpy as np

_LETTERS = np.array(list("ABCEGHJKLMNPRTVWXZ"))
BANKS = ("ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB", "KNAB", "BUNQ", "RBRB")
AREA2 = ("10", "13", "15", "20", "23", "24", "26", "30", "33", "35", "38", "40", "43", "45", "46",
         "50", "53", "55", "58", "70", "71", "72", "73", "74", "75", "76", "77", "78", "79")
AREA3 = ("111", "113", "164", "172", "180", "222", "251", "294", "313", "341", "413", "475",
         "492", "511", "522", "543", "570", "591", "599")
def bsn(rng: np.random.Generator, n: int) -> np.ndarray:
    """n nine-digit BSNs passing the elfproef: 9*d1 + ... + 2*d8 - d9 divisible by 11."""
    head = rng.integers(0, 10, size=(n, 8))
    head[:, 0] = rng.integers(1, 10, size=n)
    last = head @ np.arange(9, 1, -1) % 11
    while (bad := last == 10).any():  # no check digit exists for these; redraw the 8th digit
        head[bad, 7] = rng.integers(0, 10, size=int(bad.sum()))
        last = head @ np.arange(9, 1, -1) % 11
    return (head @ 10 ** np.arange(8, 0, -1) + last).astype(str)


def iban(rng: np.random.Generator, n: int, spaced: bool = False) -> np.ndarray:
    """n Dutch IBANs 'NLkkBBBB0123456789' whose mod-97 check digits are correct (ISO 13616)."""
    bank = rng.integers(0, len(BANKS), size=n)
    account = rng.integers(0, 10**10, size=n)
    bank_num = np.array([int("".join(str(int(c, 36)) for c in b)) for b in BANKS], dtype=np.int64)
    rest = (bank_num[bank] % 97 * 10**10 + account) % 97  # stays within int64 by reducing per chunk
    check = 98 - (rest * 10**6 + 232100) % 97             # 'NL00' -> 2321 00 moved to the end
    plain = [f"NL{c:02d}{BANKS[b]}{a:010d}" for c, b, a in zip(check.tolist(), bank.tolist(), account.tolist())]
    return np.array([" ".join(p[i:i + 4] for i in range(0, 18, 4)) for p in plain] if spaced else plain)


def phone(rng: np.random.Generator, n: int, mobile_share: float = 0.6) -> np.ndarray:
    """n Dutch phone numbers in national digits ('0612345678', '0201234567'); format with render_phone."""
    mobile = rng.random(n) < mobile_share
    area = np.where(rng.random(n) < 0.7, np.array(AREA2)[rng.integers(0, len(AREA2), n)],
                    np.array(AREA3)[rng.integers(0, len(AREA3), n)])
    body = rng.integers(0, 10**8, size=n)
    return np.array([f"06{b:08d}" if m else ("0" + a + f"{b:08d}")[:10]
                     for m, a, b in zip(mobile.tolist(), area.tolist(), body.tolist())])


def national(value) -> str | None:
    """Any written Dutch number ('+31 6 1234 5678', '020-1234567') as ten national digits, or None."""
    digits = re.sub(r"\D", "", value.replace("(0)", "")) if isinstance(value, str) else ""
    digits = "0" + digits[4:] if digits.startswith("0031") else "0" + digits[2:] if digits.startswith("31") else digits
    return digits if len(digits) == 10 and digits[0] == "0" and digits[1] != "0" else None


def render_phone(nat: str, style: int) -> str:
    """Write national digits the way people type them; styles cycle mod 10."""
    if nat[1] == "6":
        s = nat[2:]
        return (f"06-{s}", f"06{s}", f"+31 6 {s}", f"06 {s[:4]} {s[4:]}", f"+316{s}", f"06 {s}", f"+31 (0)6 {s}",
                f"06-{s[:2]} {s[2:4]} {s[4:6]} {s[6:]}", f"06 {s[:3]} {s[3:6]} {s[6:]}", f"+31-6-{s}")[style % 10]
    a = nat[1:3] if nat[1:3] in AREA2 else nat[1:4]
    s = nat[1 + len(a):]
    grouped = f"{s[:3]} {s[3:5]} {s[5:]}" if len(a) == 2 else f"{s[:2]} {s[2:4]} {s[4:]}"
    return (f"0{a}-{s}", f"0{a}{s}", f"+31 {a} {s}", f"0{a} {s[:3]} {s[3:]}", f"(0{a}) {s}",
            f"0{a} {s}", f"+31{a}{s}", f"0031 {a} {s}", f"0{a} - {grouped}", f"0{a} {grouped}")[style % 10]


def written_phone(rng: np.random.Generator, n: int) -> list[str]:
    """n phone numbers written in the styles people type (see render_phone)."""
    return [render_phone(p, s) for p, s in zip(phone(rng, n).tolist(), rng.integers(0, 10, size=n).tolist())]


def postcode(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> list[str]:
    """Postcodes "1234 AB" with the four digits drawn within each row's city range."""
    n = len(low)
    area = rng.integers(low, high + 1)
    letters = rng.choice(_LETTERS, size=(n, 2))
    return [f"{a} {l1}{l2}" for a, (l1, l2) in zip(area, letters)]
