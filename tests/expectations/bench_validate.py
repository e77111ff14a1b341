"""Timing of `expectations.validate` on large synthetic landing frames (not a pytest test).

    .venv/bin/python tests/expectations/bench_validate.py --customers 1000000 --orders 2000000

Values are distinct and valid (every IBAN its own checksum) so nothing is shortcut by caching;
one row in ten thousand carries a defect so the quarantine path is exercised too.
"""

import argparse
import resource
import threading
import time
from datetime import datetime

import numpy as np
import pandas as pd

NOW = datetime(2026, 11, 23, 12, 0)


def _iban(account: int) -> str:
    check = 98 - int("27101124" + f"{account:010d}" + "232100") % 97  # RABO, then "NL00" as digits
    return f"NL{check:02d}RABO{account:010d}"


def customers(n: int, rng: np.random.Generator) -> pd.DataFrame:
    days = rng.integers(0, 20_000, n).astype("timedelta64[D]")
    df = pd.DataFrame({
        "customer_id": np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7)),
        "first_name": "Jan", "last_name": "Jansen",
        "email": np.char.add(np.char.add("jan.jansen", np.arange(n).astype(str)), "@example.nl"),
        "phone": np.char.add("06-", rng.integers(10**7, 10**8, n).astype(str)),
        "birth_date": (np.datetime64("1940-01-01") + days).astype(str),
        "gender": rng.choice(["F", "M", "X"], n), "street": "Kerkstraat", "house_number": "12A",
        "postcode": np.char.add(rng.integers(1000, 9999, n).astype(str), " AB"), "city": "Utrecht",
        "iban": [_iban(a) for a in rng.choice(10**10, n, replace=False).tolist()],
        "status": "active", "customer_since": "2020-01-01", "relationship_end": None,
        "account_manager": "AM01", "exported_at": "2026-11-01 06:00:00",
    }).astype(object)
    df.loc[df.index % 10_000 == 7, "email"] = "not-an-email"
    return df


def orders(n: int, rng: np.random.Generator) -> pd.DataFrame:
    df = pd.DataFrame({
        "order_id": np.char.add("O", np.char.zfill(np.arange(1, n + 1).astype(str), 9)),
        "customer_id": np.char.add("C", np.char.zfill(rng.integers(1, 10**6, n).astype(str), 7)),
        "order_date": (np.datetime64("2019-01-01") + rng.integers(0, 2800, n).astype("timedelta64[D]")).astype(str),
        "amount": np.char.mod("%.2f", rng.lognormal(4.3, 0.9, n)),
        "margin": np.char.mod("%.2f", rng.lognormal(3.0, 0.9, n)),
        "product_category": "office", "channel": rng.choice(["web", "phone", "store", "field"], n),
        "payment_method": rng.choice(["ideal", "creditcard", "direct_debit", "invoice"], n),
    }).astype(object)
    df.loc[df.index % 10_000 == 7, "amount"] = "-1.00"
    return df


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def run(source: str, df: pd.DataFrame) -> None:
    from expectations import validate
    before, peak, done = _rss_mb(), [0.0], threading.Event()

    def sample():  # ru_maxrss would also count building the frame, so sample during validate only
        while not done.wait(0.05):
            peak[0] = max(peak[0], _rss_mb())

    sampler = threading.Thread(target=sample)
    sampler.start()
    started, cpu = time.perf_counter(), time.process_time()
    outcome = validate(source, df, NOW)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    done.set()
    sampler.join()
    print(f"{source}: {len(df):,} rows in {seconds:.1f} s wall, {cpu:.1f} s CPU ({len(df) / seconds:,.0f} rows/s), "
          f"{outcome.failed_rows:,} rows failed {outcome.rule_counts}; RSS {before:,.0f} MB with the frame, "
          f"peak {max(peak[0], before):,.0f} MB while validating")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    run("nps_responses", pd.DataFrame({c: [] for c in ["response_id", "customer_id", "responded_at",
                                                       "score", "comment"]}))  # pays the GE import
    if args.customers:
        run("crm_customers", customers(args.customers, rng))
    if args.orders:
        run("orders", orders(args.orders, rng))


if __name__ == "__main__":
    main()
