"""The redactor's direct path (recognizers called without Presidio's engines) redacts exactly as the
Presidio AnalyzerEngine + AnonymizerEngine path does; only the time differs."""

import pytest

from orchestration.redaction_eval import corpus
from privacy.redact import Redactor


def _iban(country: str, bban: str) -> str:
    """A valid IBAN made here (ISO 13616 check digits), so no account number is committed."""
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    return f"{country}{check:02d}{bban}"


NL, DE, GB = _iban("NL", "ABNA" + "0" * 4 + "123456"), _iban("DE", "3704" * 4 + "00"), _iban("GB", "WEST" + "1" * 14)
EDGE = ["Bel 06-12345678 0612345678 of mail jan@example.nl piet@example.nl.",
        "Jan Jansen  Piet de Vries en Anna Bakker\nPiet de Vries", "06-12345678 \n0612345678",
        "06-12345678\t0612345678", "Jan Jansen \n Piet de Vries", f"{NL} {NL}",
        "1234 AB 1234 AB, 2000-01-01 geboren 01-01-1980", "BSN 111222333  123456782",
        "mevrouw Bakker  meneer Jansen", "", "geen persoonsgegevens",
        f"Betaald van {' '.join(DE[i:i + 4] for i in range(0, len(DE), 4))} en {GB}.", DE.lower()]


@pytest.fixture(scope="module")
def world():
    docs, known = corpus(1500, seed=17)
    persons = list(zip(known["first_name"], known["last_name"], known["email"]))
    persons += [("Jan", "Jansen", "jan@example.nl"), ("Piet", "de Vries", "piet@example.nl"), ("Anna", "Bakker", None)]
    direct, engine = Redactor(persons), Redactor(persons)
    engine._direct = None  # the reference: Presidio's engines, as without the direct path
    return [d["text"] for d in docs] + EDGE, persons, direct, engine


def test_redact_is_the_same(world):
    texts, _, direct, engine = world
    assert direct._direct is not None
    assert direct.redact(texts) == engine.redact(texts)
    assert [direct.analyze(t) for t in texts[:300]] == [engine.analyze(t) for t in texts[:300]]


def test_redact_others_is_the_same(world):
    texts, persons, direct, engine = world
    for first, last, email in persons[:25]:
        keep = {first, last, f"{first} {last}", email or "", "0612345678"}
        assert direct.redact_others(texts[:120], keep) == engine.redact_others(texts[:120], keep)
