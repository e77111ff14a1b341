"""Demo events per customer: consent given and withdrawn, NPS responses, contact moments.

Free text (NPS comments, call notes, e-mails, chats) comes from `orchestration.demo.texts`,
which also returns the ground-truth spans of the personal data it plants.
"""

from datetime import date

import numpy as np
import pandas as pd

from orchestration.demo.customers import EPOCH
from orchestration.demo.texts import make_texts

CONSENT_PURPOSES = np.array(["marketing_email", "telemarketing", "profiling", "third_party_sharing"])
GRANT_RATE = np.array([0.6, 0.3, 0.5, 0.1])


def _timestamps(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    seconds = rng.integers(8 * 3600, 21 * 3600, size=len(day))
    stamp = np.datetime64(EPOCH, "s") + day.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")
    return np.datetime_as_string(stamp).astype(object).astype(str)


# The privacy notice versions and the day each was published: an event records the one then in force
# (proof of consent, Art. 7(1)).
NOTICES = {"2019.1": EPOCH, "2021.1": date(2021, 1, 1), "2023.1": date(2023, 1, 1), "2024.2": date(2024, 7, 1),
           "2025.1": date(2025, 1, 1)}


def _notice_in_force(day: np.ndarray) -> np.ndarray:
    published = np.array([(d - EPOCH).days for d in NOTICES.values()])
    return np.array(list(NOTICES))[np.searchsorted(published, day, side="right") - 1]


def _between(rng: np.random.Generator, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    return start + (rng.random(len(start)) * np.maximum(stop - start, 0)).astype(int)


def consent_events(rng: np.random.Generator, crm: pd.DataFrame, window: tuple[int, int] | None,
                   first_id: int, withdraw_rate: float = 0.2) -> pd.DataFrame:
    """Consent grants at or after the start of the relationship, some withdrawn later (Art. 7(3))."""
    n, k = len(crm), len(CONSENT_PURPOSES)
    if window is None:
        granted = rng.random((n, k)) < GRANT_RATE
        who, purpose = np.nonzero(granted)
        start, stop = crm["_since"].to_numpy()[who], crm["_end"].to_numpy()[who]
        day = _between(rng, start, np.minimum(start + 30, stop))
        withdrawn = rng.random(len(who)) < withdraw_rate
        w_day = _between(rng, day[withdrawn] + 1, stop[withdrawn])
        who = np.concatenate([who, who[withdrawn]])
        purpose = np.concatenate([purpose, purpose[withdrawn]])
        day = np.concatenate([day, w_day])
        action = np.array(["granted"] * int(len(day) - withdrawn.sum()) + ["withdrawn"] * int(withdrawn.sum()))
    else:
        who = np.nonzero(rng.random(n) < 0.01)[0]
        purpose = rng.integers(0, k, size=len(who))
        day = np.full(len(who), window[0])
        action = np.where(rng.random(len(who)) < 0.5, "withdrawn", "granted")
    order = np.lexsort((purpose, who, day))
    m = len(order)
    return pd.DataFrame({
        "event_id": [f"E{i:09d}" for i in range(first_id, first_id + m)],
        "customer_id": crm["customer_id"].to_numpy()[who[order]],
        "purpose": CONSENT_PURPOSES[purpose[order]],
        "action": action[order],
        "occurred_at": _timestamps(rng, day[order]),
        "notice_version": _notice_in_force(day[order]),
        "channel": rng.choice(np.array(["web", "app", "phone", "store"]), size=m),
    })


def _sample_customers(rng, crm, rate, window):
    who = np.nonzero(rng.random(len(crm)) < rate)[0]
    if window is None:
        day = _between(rng, crm["_since"].to_numpy()[who], crm["_end"].to_numpy()[who])
    else:
        day = np.full(len(who), window[0])
    return who, day


def nps_responses(rng, crm, others, window, first_id, truth: list) -> pd.DataFrame:
    """NPS answers (0-10, skewed positive) with an optional comment; comment spans go to `truth`."""
    who, day = _sample_customers(rng, crm, 0.3 if window is None else 0.01, window)
    m = len(who)
    score = rng.choice(np.arange(11), size=m, p=[.02, .02, .03, .03, .04, .06, .08, .14, .2, .2, .18])
    ids = [f"R{i:09d}" for i in range(first_id, first_id + m)]
    has_comment = np.nonzero(rng.random(m) < 0.6)[0]
    comment = np.full(m, None, dtype=object)
    texts = make_texts(rng, crm.iloc[who[has_comment]], others, len(has_comment), "nps")
    for i, t in zip(has_comment, texts):
        comment[i] = t["text"]
        truth.append({"id": ids[i], "source": "nps_responses", "spans": t["spans"]})
    return pd.DataFrame({
        "response_id": ids, "customer_id": crm["customer_id"].to_numpy()[who],
        "responded_at": _timestamps(rng, day), "score": score.astype(str), "comment": comment,
    })


def interactions(rng, crm, others, window, first_id, truth: list) -> pd.DataFrame:
    """Call notes, e-mails and chats about customers; planted spans go to `truth`."""
    who, day = _sample_customers(rng, crm, 0.4 if window is None else 0.02, window)
    m = len(who)
    texts = make_texts(rng, crm.iloc[who], others, m, "interaction")
    ids = [f"I{i:09d}" for i in range(first_id, first_id + m)]
    truth.extend({"id": i, "source": "interactions", "spans": t["spans"]} for i, t in zip(ids, texts))
    return pd.DataFrame({
        "interaction_id": ids, "customer_id": crm["customer_id"].to_numpy()[who],
        "channel": [t["channel"] for t in texts],
        "direction": [t["direction"] for t in texts],
        "language": [t["language"] for t in texts],
        "occurred_at": _timestamps(rng, day), "text": [t["text"] for t in texts],
    })
