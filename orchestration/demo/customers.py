"""Demo CRM population: customers (static and dynamic attributes), their orders, and leads.

Purchase behaviour follows the BG/NBD story (gamma-distributed purchase rates, churn) and
spend is lognormal per customer, so a minority of customers brings most of the revenue.
"""

from datetime import date, datetime, time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.demo import identifiers as ids
from orchestration.demo.names import (
    CITIES, COMPANIES, EMAIL_DOMAINS, FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES, PRODUCT_CATEGORIES, STREETS,
)

EPOCH = date(2019, 1, 1)


def _dates(days: np.ndarray) -> np.ndarray:
    return (np.datetime64(EPOCH) + days.astype("timedelta64[D]")).astype(str)


def people(rng: np.random.Generator, n: int, id_prefix: str, id_offset: int = 0) -> pd.DataFrame:
    """Names and contact details for n people; e-mail addresses are unique through the id."""
    number = np.arange(id_offset + 1, id_offset + n + 1)
    gender = rng.choice(np.array(["F", "M", "X"]), size=n, p=[0.49, 0.48, 0.03])
    female = rng.choice(np.array(FIRST_NAMES_F), size=n)
    male = rng.choice(np.array(FIRST_NAMES_M), size=n)
    first = np.where(gender == "F", female, np.where(gender == "M", male, np.where(rng.random(n) < .5, female, male)))
    weights = 1 / np.arange(1, len(LAST_NAMES) + 1) ** 0.6
    last = rng.choice(np.array(LAST_NAMES), size=n, p=weights / weights.sum())
    domain = rng.choice(np.array(EMAIL_DOMAINS), size=n)
    local = pd.Series(first).str.lower().str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    email = local + "." + pd.Series(last).str.replace(" ", "", regex=False).str.lower() + number.astype(str) + "@" + domain
    return pd.DataFrame({
        "id": [f"{id_prefix}{i:07d}" for i in number], "first_name": first, "last_name": last,
        "email": email.to_numpy(), "phone": ids.written_phone(rng, n), "gender": gender,
    })


def customers(rng: np.random.Generator, n: int, as_of: date, id_offset: int = 0) -> pd.DataFrame:
    """The CRM customer table as exported on `as_of`, plus hidden behaviour columns (prefixed _)."""
    df = people(rng, n, "C", id_offset).rename(columns={"id": "customer_id"})
    horizon = (as_of - EPOCH).days
    age_days = rng.integers(18 * 365, 90 * 365, size=n)
    df["birth_date"] = (np.datetime64(as_of) - age_days.astype("timedelta64[D]")).astype(str)
    city = rng.integers(0, len(CITIES), size=n)
    low = np.array([c[1] for c in CITIES])[city]
    high = np.array([c[2] for c in CITIES])[city]
    df["street"] = rng.choice(np.array(STREETS), size=n)
    suffix = np.where(rng.random(n) < 0.1, rng.choice(np.array(["A", "B", "-1", "-2"]), size=n), "")
    df["house_number"] = np.char.add(rng.integers(1, 250, size=n).astype(str), suffix)
    df["postcode"] = ids.postcode(rng, low, high)
    df["city"] = np.array([c[0] for c in CITIES])[city]
    df["iban"] = ids.iban(rng, n)
    since = rng.integers(0, horizon - 30, size=n) if id_offset == 0 else np.full(n, horizon)
    ended = rng.random(n) < 0.18
    end = np.minimum(since + 90 + rng.exponential(600, size=n).astype(int), horizon)
    ended &= end < horizon
    df["status"] = np.where(ended, "ended", "active")
    df["customer_since"] = _dates(since)
    df["relationship_end"] = np.where(ended, _dates(end), None)
    df["account_manager"] = np.char.add("AM", np.char.zfill(rng.integers(1, 13, size=n).astype(str), 2))
    df["exported_at"] = datetime.combine(as_of, time(6, 0)).isoformat(sep=" ")
    df["_since"], df["_end"] = since, np.where(ended, end, horizon)
    df["_rate"] = rng.gamma(0.7, 4.0, size=n) / 365  # purchases per day
    df["_spend"] = rng.lognormal(4.3, 0.9, size=n)
    return df


def orders(rng: np.random.Generator, crm: pd.DataFrame, first_order_id: int = 1,
           window: tuple[int, int] | None = None) -> pa.Table:
    """Orders of each customer within its active period (or `window`, in days since EPOCH).

    Built as Arrow strings (ten million orders would not fit comfortably in Python objects); the
    random draws are the same as for a DataFrame built value by value, so are the bytes written.
    """
    start = crm["_since"].to_numpy() if window is None else np.full(len(crm), window[0])
    stop = crm["_end"].to_numpy() if window is None else np.full(len(crm), window[1])
    alive = stop > start
    counts = rng.poisson(crm["_rate"].to_numpy() * (stop - start) * alive)
    if window is None:
        counts[alive & (counts == 0) & (rng.random(len(crm)) < 0.6)] = 1  # most customers ordered once
    who = np.repeat(np.arange(len(crm)), counts)
    day = start[who] + (rng.random(len(who)) * (stop - start)[who]).astype(int)
    order = np.lexsort((who, day))
    who, day = who[order], day[order]
    amount = np.round(crm["_spend"].to_numpy()[who] * rng.gamma(6, 1 / 6, size=len(who)) + 5, 2)
    n = len(who)
    margin = np.round(amount * rng.uniform(0.12, 0.45, size=n), 2)
    # rng.choice(array, size, p) draws exactly what rng.choice(len(array), size, p) draws.
    category = rng.choice(len(PRODUCT_CATEGORIES), size=n)
    channel = rng.choice(4, size=n, p=[.55, .2, .15, .1])
    payment = rng.choice(4, size=n)
    return pa.table({
        "order_id": numbered("O", first_order_id, n, 9),
        "customer_id": pa.array(crm["customer_id"].to_numpy()[who], pa.string()),
        "order_date": arrow_dates(day),
        "amount": two_decimals(amount),
        "margin": two_decimals(margin),
        "product_category": pa.array(PRODUCT_CATEGORIES, pa.string()).take(category),
        "channel": pa.array(["web", "phone", "store", "field"]).take(channel),
        "payment_method": pa.array(["ideal", "creditcard", "direct_debit", "invoice"]).take(payment),
    })


def numbered(prefix: str, first: int, n: int, width: int) -> pa.Array:
    """f"{prefix}{i:0{width}d}" for i in first .. first + n - 1, as Arrow strings."""
    digits = pa.array(np.arange(first, first + n, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, width, "0"), "")


def arrow_dates(days: np.ndarray) -> pa.Array:
    """ISO dates (YYYY-MM-DD) of `days` after EPOCH, as Arrow strings (what `_dates` gives)."""
    epoch = (EPOCH - date(1970, 1, 1)).days
    return pa.array(np.asarray(days, dtype=np.int64) + epoch).cast(pa.int32()).cast(pa.date32()).cast(pa.string())


def two_decimals(values: np.ndarray) -> pa.Array:
    """"%.2f" % v for values already rounded to cents, as Arrow strings, without a Python loop."""
    cents = np.abs(np.rint(values * 100)).astype(np.int64)
    whole = pa.array(cents // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(cents % 100).cast(pa.string()), 2, "0")
    text = pc.binary_join_element_wise(whole, frac, ".")
    sign = np.signbit(values)
    return pc.if_else(pa.array(sign), pc.binary_join_element_wise("-", text, ""), text) if sign.any() else text


def leads(rng: np.random.Generator, n: int, as_of: date) -> pd.DataFrame:
    """Prospects (contacted, no order yet) and suspects (target group, never contacted)."""
    df = people(rng, n, "L").rename(columns={"id": "lead_id"}).drop(columns="gender")
    horizon = (as_of - EPOCH).days
    created = rng.integers(horizon - 900, horizon, size=n)
    prospect = rng.random(n) < 0.4
    df["company"] = np.where(rng.random(n) < 0.5, rng.choice(np.array(COMPANIES), size=n), None)
    df["stage"] = np.where(prospect, "prospect", "suspect")
    df["lead_source"] = rng.choice(np.array(["website", "fair", "referral", "purchased_list", "campaign"]), size=n)
    # a bought list names its supplier: the source a lead is told of (Art. 14(2)(f), 15(1)(g))
    df["lead_source"] = df["lead_source"].replace("purchased_list", "purchased_list:Adresbureau Voorbeeld B.V.")
    df["created_at"] = _dates(created)
    contact = np.minimum(created + rng.integers(0, 400, size=n), horizon)
    df["last_contact_at"] = np.where(prospect, _dates(contact), None)
    return df


def day_number(d: date) -> int:
    return (d - EPOCH).days


def moved(rng: np.random.Generator, crm: pd.DataFrame, exported: datetime) -> pd.DataFrame:
    """A CRM delta: some customers move, change phone or bank account, or end the relationship."""
    n = len(crm)
    changed = crm.copy()
    move = rng.random(n) < 0.03
    city = rng.integers(0, len(CITIES), size=n)
    changed.loc[move, "street"] = rng.choice(np.array(STREETS), size=move.sum())
    changed.loc[move, "postcode"] = np.array(ids.postcode(rng, np.array([CITIES[c][1] for c in city[move]]),
                                                          np.array([CITIES[c][2] for c in city[move]])))
    changed.loc[move, "city"] = np.array([CITIES[c][0] for c in city[move]])
    new_phone = rng.random(n) < 0.02
    changed.loc[new_phone, "phone"] = ids.written_phone(rng, int(new_phone.sum()))
    new_iban = rng.random(n) < 0.01
    changed.loc[new_iban, "iban"] = ids.iban(rng, int(new_iban.sum()))
    end = (rng.random(n) < 0.01) & (crm["status"] == "active").to_numpy()
    changed.loc[end, "status"] = "ended"
    changed.loc[end, "relationship_end"] = exported.date().isoformat()
    changed["exported_at"] = exported.isoformat(sep=" ")
    return changed[move | new_phone | new_iban | end]

