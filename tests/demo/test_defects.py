"""inject_defects: deterministic by seed, records every defect, and every defect is detectable."""

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from orchestration.demo.defects import inject_defects, kinds_for

NOW = datetime(2026, 11, 23, 12, 0)
ROWS = 40


def _rows(source: str, i: int) -> dict:
    c = f"C{i:07d}"
    return {
        "crm_customers": dict(customer_id=c, first_name="Jan", last_name="Jansen", email=f"klant{i}@example.nl",
                              phone="06-12345678", birth_date="1980-04-01", gender="M", street="Kerkstraat",
                              house_number=str(i), postcode="1234 AB", city="Utrecht", iban="NL91" "ABNA" "0417164300",
                              status="ended" if i % 2 else "active", customer_since="2020-01-01",
                              relationship_end="2024-05-01" if i % 2 else "", account_manager="AM01",
                              exported_at="2026-11-01 06:00:00"),
        "orders": dict(order_id=f"O{i:09d}", customer_id=c, order_date="2024-01-31", amount=f"{i}.50",
                       margin="1.00", product_category="office", channel="web", payment_method="ideal"),
        "leads": dict(lead_id=f"L{i:07d}", first_name="Eva", last_name="Bos", email=f"lead{i}@example.nl",
                      phone="020-1234567", company="Bakkerij Centrum", stage="prospect", lead_source="fair",
                      created_at="2025-03-01", last_contact_at="2025-04-01"),
        "consent_events": dict(event_id=f"E{i}", customer_id=c, purpose="profiling", action="granted",
                               occurred_at="2024-02-01T10:00:00", notice_version="2024.2", channel="web"),
        "nps_responses": dict(response_id=f"R{i}", customer_id=c, responded_at="2024-02-01T10:00:00",
                              score=str(i % 11), comment='Prima, "snel" geleverd' if i % 3 else ""),
        "interactions": dict(interaction_id=f"I{i}", customer_id=c, channel="chat", direction="inbound",
                             language="nl", occurred_at="2024-02-01T10:00:00", text="Vraag over\nlevering"),
    }[source]


@pytest.fixture
def landing(tmp_path) -> Path:
    root = tmp_path / "demo" / "landing"
    for source in ["crm_customers", "orders", "leads", "consent_events", "nps_responses", "interactions"]:
        folder = root / source
        folder.mkdir(parents=True)
        rows = [_rows(source, i) for i in range(1, ROWS + 1)]
        if source == "interactions":
            (folder / "2026-11-01.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            continue
        with (folder / "2026-11-01.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return root


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_defects_other_seed_other_defects(landing, tmp_path):
    twin, other = tmp_path / "twin" / "landing", tmp_path / "other" / "landing"
    shutil.copytree(landing, twin)
    shutil.copytree(landing, other)
    first, second = inject_defects(landing, 0.1, seed=1), inject_defects(twin, 0.1, seed=1)
    assert first == second and _snapshot(landing) == _snapshot(twin)
    assert inject_defects(other, 0.1, seed=2) != first
    assert _snapshot(other) != _snapshot(landing)


def test_every_kind_is_planted_recorded_and_written(landing):
    before = _snapshot(landing)
    planted = inject_defects(landing, 0.05, seed=3)
    sources = {name.split("/")[0] for name in before}
    expected = {(s, k) for s in sources for k in kinds_for(s, "jsonl" if s == "interactions" else "csv")}
    assert {(r["source"], r["kind"]) for r in planted} == expected
    assert len({r["kind"] for r in planted}) >= 15
    truth = (landing.parent / "truth" / "defects.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in truth] == planted
    after = _snapshot(landing)
    for r in planted:
        old, new = before[r["file"]].split(b"\n"), after[r["file"]].split(b"\n")
        assert r["line"] > len(old) - 1 or old[r["line"] - 1] != new[r["line"] - 1], r
        assert r["detected_by"].startswith(("rule:", "reader:", "collapsed")), r


def test_rate_zero_changes_nothing(landing):
    before = _snapshot(landing)
    assert inject_defects(landing, 0.0, seed=3) == []
    assert _snapshot(landing) == before


def test_every_defect_is_caught_by_the_reader_or_its_rule(landing):
    reader = pytest.importorskip("orchestration.ingest.reader")
    from expectations import SOURCES, validate

    planted = inject_defects(landing, 0.05, seed=4)
    found: dict[tuple, set] = {}
    for path in sorted(landing.glob("*/*")):
        source, name = path.parent.name, f"{path.parent.name}/{path.name}"
        read = reader.read_landing_table(path, SOURCES[source])
        for reject in read.rejects:
            found.setdefault((name, reject.line), set()).add(f"reader:{reject.reason}")
        rows = read.rows.to_pandas()
        outcome = validate(source, rows, NOW)
        lines = rows["_source_line"]
        for index, rule in zip(outcome.failures["row_index"], outcome.failures["rule"]):
            found.setdefault((name, int(lines[index])), set()).add(f"rule:{rule}")
        for index in outcome.collapsed:
            found.setdefault((name, int(lines[index])), set()).add("collapsed")
    for r in planted:
        assert any(f.startswith(r["detected_by"]) for f in found.get((r["file"], r["line"]), ())), r
        if r["kind"] == "duplicate_id_conflict":
            assert r["detected_by"][5:] in {f[5:] for f in found[(r["file"], r["also_line"])]}
