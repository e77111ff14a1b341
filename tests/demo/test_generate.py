import hashlib
from pathlib import Path

import pandas as pd

from orchestration.demo.generate import generate


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_same_bytes(tmp_path):
    generate(tmp_path / "a", customers=200, seed=3)
    generate(tmp_path / "b", customers=200, seed=3)
    generate(tmp_path / "c", customers=200, seed=4)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_every_source_on_two_days(tiny_landing):
    landing = tiny_landing / "landing"
    for source in ["crm_customers", "orders", "leads", "consent_events", "nps_responses", "interactions"]:
        files = sorted(p.name for p in (landing / source).iterdir())
        assert len(files) == (1 if source == "leads" else 2), source


def test_second_day_changes_dynamic_attributes(tmp_path):
    generate(tmp_path, customers=2000, seed=5)
    day1 = pd.read_csv(tmp_path / "landing/crm_customers/2026-11-01.csv", dtype=str).set_index("customer_id")
    day2 = pd.read_csv(tmp_path / "landing/crm_customers/2026-11-02.csv", dtype=str).set_index("customer_id")
    known = day2.index.intersection(day1.index)
    assert len(known) > 0 and len(day2) > len(known)  # changed and new customers
    changed = day1.loc[known] != day2.loc[known]
    assert changed["postcode"].any() and changed["phone"].any() and changed["status"].any()
    assert not changed["birth_date"].any()  # static attributes stay


def test_revenue_is_skewed(tmp_path):
    generate(tmp_path, customers=3000, seed=6)
    orders = pd.concat(pd.read_csv(p, dtype={"amount": float}) for p in (tmp_path / "landing/orders").iterdir())
    revenue = orders.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    top = revenue.head(max(1, len(revenue) // 5)).sum() / revenue.sum()
    assert 0.5 < top < 0.95


def test_the_plain_personal_data_it_writes_is_readable_by_this_account_only(tmp_path):
    generate(tmp_path, customers=50, seed=1)
    written = [p for folder in ("landing", "truth") for p in [tmp_path / folder, *(tmp_path / folder).rglob("*")]]
    assert written and all(p.stat().st_mode & 0o777 == (0o700 if p.is_dir() else 0o600) for p in written)


def test_a_consent_event_records_the_privacy_notice_in_force_on_its_day(tiny_landing):
    """DPO review: demo consents given in 2022 carried the notice of 2025, contradictory proof (Art. 7(1))."""
    from orchestration.demo.events import NOTICES

    events = pd.concat(pd.read_csv(p, dtype=str) for p in (tiny_landing / "landing" / "consent_events").iterdir())
    published = pd.to_datetime(events["notice_version"].map({k: str(v) for k, v in NOTICES.items()}))
    assert (published <= pd.to_datetime(events["occurred_at"])).all()
    assert events["notice_version"].nunique() > 1


def test_each_source_is_written_before_the_next_is_drawn(tmp_path, monkeypatch):
    """Memory at 1 M customers: ten million orders are on disk, not in memory, while the consent
    events are drawn (4.74 -> 3.83 GiB peak); the draws, and so the bytes, stay the same."""
    from orchestration.demo import events

    written_first = []
    draw = events.consent_events
    monkeypatch.setattr(events, "consent_events", lambda *a, **kw: written_first.append(
        sorted(p.parent.name for p in (tmp_path / "landing").glob("*/*"))) or draw(*a, **kw))
    generate(tmp_path, customers=50)
    assert written_first[0] == ["crm_customers", "leads", "orders"]
    assert written_first[1].count("orders") == 2 and len(written_first) == 2  # day 2 too
