"""Plant documented defects in a generated landing zone, to prove the ingest gate (Art. 5(1)(d)).

`inject_defects` rewrites the landing files in place and records every defect in
`<landing>/../truth/defects.jsonl` (kind, source, file, line, column, detected_by), so a test
can check that each one ends up in quarantine with the right reason. Lines are physical and
1-based (a CSV header is line 1). Duplicates are appended at the end of the file so no other
line moves; `also_line` names the original row, which the conflict quarantines as well.

"detected by" names the rule (without its prefix expect_column_) that quarantines the row, the
reader's reject reason for a line that cannot be parsed, or the collapse of an exact copy.
"events" are orders, consent_events, nps_responses and interactions.

| kind | sources | what is written | detected by |
|---|---|---|---|
| text_in_amount | orders | amount "twaalf euro" | values_to_match_regex:amount |
| negative_amount | orders | amount below zero | values_to_be_between:amount |
| future_date | events | a date in 2099 | values_to_be_between:<date> |
| impossible_date | orders, leads | 2025-02-30 | values_to_be_parseable_datetimes:<date> |
| missing_key | all | the id left empty | values_to_not_be_null:<id> |
| missing_customer_id | events | customer_id empty | values_to_not_be_null:customer_id |
| bad_email | crm, leads | "@" written as " at " | values_to_match_regex:email |
| bad_phone | crm, leads | "06-1234" | values_to_match_regex:phone |
| bad_postcode | crm | "12345" | values_to_match_regex:postcode |
| invalid_iban_checksum | crm | last IBAN digit changed | values_to_be_valid_iban:iban |
| birth_date_1850 | crm | born 1850-06-15 | values_to_be_between:birth_date |
| end_before_start | crm | end before customer_since | pair_values_a_to_be_greater_than_b:relationship_end |
| nps_out_of_range | nps | score 11 | values_to_be_between:score |
| nps_not_integer | nps | score 8.5 | values_to_match_regex:score |
| unknown_consent_purpose | consent | purpose sms_marketing | values_to_be_in_set:purpose |
| unknown_action | consent | action revoked | values_to_be_in_set:action |
| unknown_channel | orders, interactions | channel fax | values_to_be_in_set:channel |
| duplicate_id_conflict | all | a copy, one value changed | values_to_be_unique:<id> (both rows) |
| exact_duplicate | all | an exact copy of a row | collapsed by validate (ValidationOutcome.collapsed) |
| nul_byte | CSV sources | a NUL byte inside a field | reader: line contains a NUL byte |
| latin1_text | all | the line re-encoded as latin-1 with "é" | reader: line is not valid UTF-8 |
| unterminated_quote | CSV sources | a field opened with " and never closed | reader: unterminated quoted field |
| extra_column | CSV sources | one field too many | reader: expected N fields, found N+1 |
| missing_column | CSV sources | the last field dropped | reader: expected N fields, found N-1 |
| malformed_json | interactions | the closing brace cut off | reader: malformed JSON line |

Run it once per generated landing zone: a second run plants a second set of defects.
"""

import csv
import io
import json
import random
from datetime import date, timedelta
from pathlib import Path

RULE = "rule:expect_column_values_to_"
ID = {"crm_customers": "customer_id", "orders": "order_id", "leads": "lead_id", "consent_events": "event_id",
      "nps_responses": "response_id", "interactions": "interaction_id"}
EVENTS = ("orders", "consent_events", "nps_responses", "interactions")
WHEN = {"orders": "order_date", "consent_events": "occurred_at", "nps_responses": "responded_at",
        "interactions": "occurred_at"}
TEXT = {"crm_customers": "street", "orders": "product_category", "leads": "company", "consent_events": "channel",
        "nps_responses": "comment", "interactions": "text"}


def _break_iban(v, row):
    # Any single changed character breaks the mod-97 check; that is what the check is for.
    return v[:-1] + (str((int(v[-1]) + 1) % 10) if v[-1].isdigit() else "0")


def _earlier_end(v, row):
    return (date.fromisoformat(row["customer_since"]) - timedelta(days=30)).isoformat()


# kind: (detected_by before ":<column>", {source: column}, new value from (old value, row))
VALUE_KINDS = {
    "text_in_amount": (RULE + "match_regex", {"orders": "amount"}, lambda v, r: "twaalf euro"),
    "negative_amount": (RULE + "be_between", {"orders": "amount"}, lambda v, r: f"-{float(v) + 1:.2f}"),
    "future_date": (RULE + "be_between", WHEN, lambda v, r: "2099-06-15" + v[10:]),
    "impossible_date": (RULE + "be_parseable_datetimes", {"orders": "order_date", "leads": "created_at"},
                        lambda v, r: "2025-02-30"),
    "missing_key": (RULE + "not_be_null", ID, lambda v, r: None),
    "missing_customer_id": (RULE + "not_be_null", dict.fromkeys(EVENTS, "customer_id"), lambda v, r: None),
    "bad_email": (RULE + "match_regex", {"crm_customers": "email", "leads": "email"},
                  lambda v, r: v.replace("@", " at ")),
    "bad_phone": (RULE + "match_regex", {"crm_customers": "phone", "leads": "phone"}, lambda v, r: "06-1234"),
    "bad_postcode": (RULE + "match_regex", {"crm_customers": "postcode"}, lambda v, r: "12345"),
    "invalid_iban_checksum": (RULE + "be_valid_iban", {"crm_customers": "iban"}, _break_iban),
    "birth_date_1850": (RULE + "be_between", {"crm_customers": "birth_date"}, lambda v, r: "1850-06-15"),
    "end_before_start": ("rule:expect_column_pair_values_a_to_be_greater_than_b",
                         {"crm_customers": "relationship_end"}, _earlier_end),
    "nps_out_of_range": (RULE + "be_between", {"nps_responses": "score"}, lambda v, r: "11"),
    "nps_not_integer": (RULE + "match_regex", {"nps_responses": "score"}, lambda v, r: "8.5"),
    "unknown_consent_purpose": (RULE + "be_in_set", {"consent_events": "purpose"}, lambda v, r: "sms_marketing"),
    "unknown_action": (RULE + "be_in_set", {"consent_events": "action"}, lambda v, r: "revoked"),
    "unknown_channel": (RULE + "be_in_set", {"orders": "channel", "interactions": "channel"}, lambda v, r: "fax"),
}
LINE_KINDS = {  # kind: (detected_by, formats)
    "nul_byte": ("reader:line contains a NUL byte", ("csv",)),
    "latin1_text": ("reader:line is not valid UTF-8", ("csv", "jsonl")),
    "unterminated_quote": ("reader:unterminated quoted field", ("csv",)),
    "extra_column": ("reader:expected N fields, found N+1", ("csv",)),  # N filled in by _line_defect
    "missing_column": ("reader:expected N fields, found N-1", ("csv",)),
    "malformed_json": ("reader:malformed JSON line", ("jsonl",)),
}
DUPLICATE_KINDS = {"duplicate_id_conflict": RULE + "be_unique", "exact_duplicate": "collapsed"}
_QUOTE_GAP = 60  # the reader joins up to 50 lines to close a quote: keep two open quotes apart


class _File:
    """One landing file as physical lines; defects rewrite single-line records in place."""

    def __init__(self, path: Path):
        self.path, self.is_csv = path, path.suffix == ".csv"
        self.lines = path.read_bytes().split(b"\n")
        if self.lines[-1] == b"":
            self.lines.pop()
        self.header = next(csv.reader([self.lines[0].decode("utf-8").rstrip("\r")])) if self.is_csv else None
        self.single, self.multi, i = [], [], 1 if self.is_csv else 0
        while i < len(self.lines):  # group physical lines into records by quote parity, as a reader does
            start, quotes = i, self.lines[i].count(b'"')
            while quotes % 2 and i + 1 < len(self.lines):
                i += 1
                quotes += self.lines[i].count(b'"')
            (self.single if start == i else self.multi).append(start)
            i += 1
        self.appended, self.used, self.open_quotes = [], set(), []

    def row(self, i: int) -> dict | None:
        try:
            text = self.lines[i].decode("utf-8").rstrip("\r")
            if not self.is_csv:
                obj = json.loads(text)
                return obj if isinstance(obj, dict) else None
            fields = next(csv.reader([text], strict=True))
        except (UnicodeDecodeError, ValueError, csv.Error):
            return None
        return dict(zip(self.header, [f or None for f in fields])) if len(fields) == len(self.header) else None

    def dump(self, row: dict) -> str:
        if not self.is_csv:
            return json.dumps(row, ensure_ascii=False)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(["" if v is None else v for v in row.values()])
        return buf.getvalue()

    def quote_ok(self, i: int) -> bool:
        near = range(i - _QUOTE_GAP, i + _QUOTE_GAP + 1)
        return not any(j in near for j in self.open_quotes + self.multi)

    def save(self) -> None:
        self.path.write_bytes(b"\n".join(self.lines + self.appended) + b"\n")


def _line_defect(f: _File, kind: str, source: str, row: dict) -> tuple[bytes, str]:
    width = len(f.header or [])
    if kind == "latin1_text":
        row[TEXT[source]] = "Café " + (row[TEXT[source]] or "")
        return f.dump(row).encode("latin-1", "replace"), ""
    text = f.dump(row)
    cut = text.index(",") + 1
    if kind == "nul_byte":
        return (text[:cut] + "\x00" + text[cut:]).encode(), ""
    if kind == "unterminated_quote":
        return (text[:cut] + '"' + text[cut:]).encode(), ""
    if kind == "extra_column":
        return (text + ",extra").encode(), f"expected {width} fields, found {width + 1}"
    if kind == "missing_column":
        return f.dump(dict(list(row.items())[:-1])).encode(), f"expected {width} fields, found {width - 1}"
    return text.rstrip()[:-1].encode(), ""  # malformed_json: the closing brace is gone


def _plant(f: _File, kind: str, source: str, rng: random.Random) -> dict | None:
    column = VALUE_KINDS[kind][1][source] if kind in VALUE_KINDS else None
    for _ in range(50):  # a few random picks; a kind that fits no free row is skipped
        i = rng.choice(f.single)
        row = None if i in f.used else f.row(i)
        if row is None or (column and row.get(column) is None):
            continue
        if kind == "unterminated_quote" and not f.quote_ok(i):
            continue
        if kind == "end_before_start" and not row.get("customer_since"):
            continue
        f.used.add(i)
        record = {"kind": kind, "source": source, "file": f"{source}/{f.path.name}", "line": i + 1,
                  "column": column}
        ending = b"\r" if f.lines[i].endswith(b"\r") else b""
        if kind in VALUE_KINDS:
            prefix, _, change = VALUE_KINDS[kind]
            row[column] = change(row[column], row)
            f.lines[i] = f.dump(row).encode() + ending
            return {**record, "detected_by": f"{prefix}:{column}"}
        if kind in LINE_KINDS:
            f.lines[i], reason = _line_defect(f, kind, source, row)
            f.lines[i] += ending
            f.open_quotes += [i] if kind == "unterminated_quote" else []
            return {**record, "detected_by": f"reader:{reason}" if reason else LINE_KINDS[kind][0]}
        if kind == "duplicate_id_conflict":
            column = TEXT[source]
            row[column] = (row[column] or "") + " (gewijzigd)"
        f.appended.append(f.dump(row).encode() + ending)
        line = len(f.lines) + len(f.appended)
        detected = DUPLICATE_KINDS[kind] + (f":{ID[source]}" if kind == "duplicate_id_conflict" else "")
        return {**record, "line": line, "column": column, "detected_by": detected, "also_line": i + 1}
    return None


def kinds_for(source: str, fmt: str) -> list[str]:
    """The defect kinds that apply to a source in a file format ("csv" or "jsonl")."""
    value = [k for k, (_, columns, _) in VALUE_KINDS.items() if source in columns]
    return value + [k for k, (_, fmts) in LINE_KINDS.items() if fmt in fmts] + list(DUPLICATE_KINDS)


def inject_defects(landing_dir: Path, rate: float, seed: int) -> list[dict]:
    """Plant defects in about `rate` of the rows of every landing file; return and record them.

    The largest file of each source gets every kind that applies to it at least once (at most
    half its rows are touched), so a small demo still shows each defect. Same files, rate and
    seed give the same bytes and the same record.
    """
    rng = random.Random(seed)
    files = sorted(p for p in Path(landing_dir).glob("*/*") if p.parent.name in ID and p.suffix in (".csv", ".jsonl"))
    largest = {}
    for p in files:
        if p.stat().st_size > largest.get(p.parent.name, (0, None))[0]:
            largest[p.parent.name] = (p.stat().st_size, p)
    planted: list[dict] = []
    for path in files:
        source, f = path.parent.name, _File(path)
        kinds = kinds_for(source, path.suffix[1:])
        n = round(rate * len(f.single))
        if rate > 0 and largest[source][1] == path:
            n = max(n, len(kinds))
        n = min(n, len(f.single) // 2)
        plan = rng.sample(kinds, len(kinds))[:n] + [rng.choice(kinds) for _ in range(n - len(kinds))]
        planted += [r for r in (_plant(f, kind, source, rng) for kind in plan) if r]
        f.save()
    planted.sort(key=lambda r: (r["file"], r["line"]))
    truth = Path(landing_dir).parent / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    with (truth / "defects.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in planted)
    return planted
