"""Measured evidence that free-text redaction works (Art. 25 by design, Art. 5(1)(c) minimisation).

Generates a corpus with ground-truth spans (orchestration.demo.texts), runs (a) our Redactor and
(b) Presidio's default pattern recognizers (AnalyzerEngine, blank spaCy engine, default registry,
every text analysed as 'en' because that registry only registers English), and prints precision,
recall and throughput per entity type.

Matching is overlap-based: a predicted span counts as correct when it overlaps a true span of the
same entity type in the same text; a true span is found when some predicted span of its type
overlaps it. Boundaries therefore do not matter ('meneer De Vries' vs 'De Vries' both count),
which is what redaction needs: the value is gone either way. Baseline types are mapped to ours
(DATE_TIME -> DATE_OF_BIRTH); its other types (US_BANK_NUMBER, ...) are counted as 'other'.

    python -m orchestration.redaction_eval --texts 5000
"""

import argparse
import socket
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd

from orchestration.demo.names import EMAIL_DOMAINS, FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES
from orchestration.demo.identifiers import bsn, iban, phone
from orchestration.demo.texts import make_texts
from privacy.redact import ENTITIES, Redactor, blank_nlp_engine

BASELINE_MAP = {"DATE_TIME": "DATE_OF_BIRTH"}


def people(rng: np.random.Generator, n: int, prefix: str) -> pd.DataFrame:
    """A CRM-like table of n persons with valid identifiers (unique e-mails through a number)."""
    first = rng.choice(np.array(FIRST_NAMES_F + FIRST_NAMES_M), size=n)
    last = rng.choice(np.array(LAST_NAMES), size=n)
    local = [f"{f}.{s}".lower().replace(" ", "").replace("ë", "e") for f, s in zip(first, last)]
    days = rng.integers(-20000, 2000, size=n).astype("timedelta64[D]")
    domains, letters = np.array(EMAIL_DOMAINS), np.array(list("ABCEGHJKLMNPRTVWXZ"))
    return pd.DataFrame({
        "first_name": first, "last_name": last, "phone": phone(rng, n), "iban": iban(rng, n),
        "email": [f"{lo}{prefix}{i}@{d}" for i, (lo, d) in enumerate(zip(local, rng.choice(domains, size=n)))],
        "postcode": [f"{d} {a}{b}" for d, (a, b) in zip(rng.integers(1000, 10000, n), rng.choice(letters, (n, 2)))],
        "house_number": rng.integers(1, 300, size=n).astype(str), "bsn": bsn(rng, n),
        "birth_date": (np.datetime64("1980-01-01") + days).astype(str),
    })


def corpus(n_texts: int, seed: int) -> tuple[list[dict], pd.DataFrame]:
    """n_texts texts (80 % contact moments, 20 % NPS comments) and every known person (customers + leads)."""
    rng = np.random.default_rng(seed)
    customers, leads = people(rng, max(300, n_texts // 2), "c"), people(rng, max(100, n_texts // 6), "l")
    known = pd.concat([customers, leads], ignore_index=True)
    n_nps = n_texts // 5
    docs = []
    for kind, n in (("interaction", n_texts - n_nps), ("nps", n_nps)):
        owners = customers.iloc[rng.integers(0, len(customers), size=n)].reset_index(drop=True)
        docs += make_texts(rng, owners, known, n, kind)
    return docs, known


def _overlap(a: dict, b: dict) -> bool:
    return a["entity"] == b["entity"] and a["start"] < b["end"] and b["start"] < a["end"]


def score(docs: list[dict], predicted: list[list[dict]]) -> dict:
    """Per entity: support, predicted, precision, recall (overlap-based, see module docstring)."""
    counts = {}
    for doc, pred in zip(docs, predicted):
        for p in pred:
            c = counts.setdefault(p["entity"], [0, 0, 0, 0])  # true spans, found, predicted, correct
            c[2] += 1
            c[3] += any(_overlap(g, p) for g in doc["spans"])
        for g in doc["spans"]:
            c = counts.setdefault(g["entity"], [0, 0, 0, 0])
            c[0] += 1
            c[1] += any(_overlap(g, p) for p in pred)
    return {e: {"support": c[0], "predicted": c[2], "precision": c[3] / c[2] if c[2] else None,
                "recall": c[1] / c[0] if c[0] else None} for e, c in sorted(counts.items())}


@contextmanager
def no_network(attempts: list):
    """Fail and record any socket connection: proves no public-suffix list or model is fetched."""
    original = socket.socket.connect

    def refuse(self, address):
        attempts.append(address)
        raise OSError(f"network access attempted during evaluation: {address}")
    socket.socket.connect = refuse
    try:
        yield
    finally:
        socket.socket.connect = original


def _presidio_default():
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    # Presidio's EmailRecognizer calls tldextract, which would download the public-suffix list:
    # point it at the snapshot bundled with tldextract instead.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    engine = AnalyzerEngine(nlp_engine=blank_nlp_engine(["en"]), supported_languages=["en"])

    def analyze(text):
        return [{"start": r.start, "end": r.end, "score": r.score,
                 "entity": BASELINE_MAP.get(r.entity_type, r.entity_type if r.entity_type in ENTITIES else "other")}
                for r in engine.analyze(text, language="en")]
    return analyze


def _timed(analyze, texts):
    start = time.perf_counter()
    out = [analyze(t) for t in texts]
    return out, len(texts) / (time.perf_counter() - start)


def evaluate(n_texts: int = 5000, seed: int = 0) -> dict:
    """{'ours': {...}, 'presidio_default': {...}}: per-entity scores plus texts_per_second."""
    docs, known = corpus(n_texts, seed)
    texts, attempts, result = [d["text"] for d in docs], [], {"texts": len(docs)}
    with no_network(attempts):
        start = time.perf_counter()
        redactor = Redactor(zip(known["first_name"], known["last_name"], known["email"]))
        build = time.perf_counter() - start
        ours, rate = _timed(redactor.analyze, texts)
        _, redact_rate = _timed(lambda t: redactor.redact([t]), texts)
        result["ours"] = {"entities": score(docs, ours), "texts_per_second": rate,
                          "redact_texts_per_second": redact_rate, "build_seconds": build}
        base, rate = _timed(_presidio_default(), texts)
        result["presidio_default"] = {"entities": score(docs, base), "texts_per_second": rate}
    result["network_attempts"] = len(attempts)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    r = evaluate(args.texts, args.seed)
    fmt = lambda v: "   -  " if v is None else f"{v:6.3f}"
    print(f"{r['texts']} texts, seed {args.seed}, overlap-based span matching, "
          f"network attempts: {r['network_attempts']}")
    print(f"{'entity':<15}{'support':>8} | {'ours P':>7}{'R':>7}{'pred':>6} | {'presidio P':>11}{'R':>7}{'pred':>6}")
    ours, base = r["ours"]["entities"], r["presidio_default"]["entities"]
    for e in list(ENTITIES) + ["other"]:
        o, b = ours.get(e, {}), base.get(e, {})
        print(f"{e:<15}{max(o.get('support', 0), b.get('support', 0)):>8} | {fmt(o.get('precision')):>7}"
              f"{fmt(o.get('recall')):>7}{o.get('predicted', 0):>6} | {fmt(b.get('precision')):>11}"
              f"{fmt(b.get('recall')):>7}{b.get('predicted', 0):>6}")
    print(f"throughput (analyze, texts/s): ours {r['ours']['texts_per_second']:.0f} "
          f"(redact incl. anonymizer {r['ours']['redact_texts_per_second']:.0f}), "
          f"presidio default {r['presidio_default']['texts_per_second']:.0f}")
    return r


if __name__ == "__main__":
    main()
