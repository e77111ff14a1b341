"""Each row-level rule quarantines its own defect, good rows pass, and the counts add up."""

from datetime import datetime

import pandas as pd
import pytest

from expectations import ID_COLUMNS, SOURCES, validate

NOW = datetime(2026, 11, 23, 12, 0)
GOOD = {
    "crm_customers": dict(customer_id="C0000001", first_name="Jan", last_name="Jansen", email="jan.jansen@example.nl",
                          phone="06-12345678", birth_date="1980-04-01", gender="M", street="Kerkstraat",
                          house_number="12A", postcode="1234 AB", city="Utrecht", iban="NL91" "ABNA" "0417164300",
                          status="ended", customer_since="2020-01-01", relationship_end="2024-05-01",
                          account_manager="AM01", exported_at="2026-11-01 06:00:00"),
    "orders": dict(order_id="O000000001", customer_id="C0000001", order_date="2024-01-31", amount="125.50",
                   margin="-3.10", product_category="office", channel="web", payment_method="ideal"),
    "leads": dict(lead_id="L0000001", first_name="Eva", last_name="Bos", email=None, phone="+31 20 123 4567",
                  company=None, stage="suspect", lead_source="fair", created_at="2025-03-01", last_contact_at=None),
    "consent_events": dict(event_id="E1", customer_id="C0000001", purpose="marketing_email", action="granted",
                           occurred_at="2024-02-01T10:00:00", notice_version="2024.2", channel="web"),
    "nps_responses": dict(response_id="R1", customer_id="C0000001", responded_at="2024-02-01T10:00:00+01:00",
                          score="10", comment=None),
    "interactions": dict(interaction_id="I1", customer_id="C0000001", channel="call", direction="inbound",
                         language="nl", occurred_at="2026-11-23T11:59:00", text="Belde over levering."),
}
R = "expect_column_values_to_"
CASES = [  # source, column, bad value, the one rule that must name it
    ("crm_customers", "customer_id", None, R + "not_be_null:customer_id"),
    ("crm_customers", "customer_id", "C 123;", R + "match_regex:customer_id"),
    ("crm_customers", "email", "jan.jansen(at)example.nl", R + "match_regex:email"),
    ("crm_customers", "email", "jan@example.nl\n", R + "match_regex:email"),
    ("crm_customers", "phone", "06-1234", R + "match_regex:phone"),
    ("crm_customers", "postcode", "1234 SS", R + "match_regex:postcode"),
    ("crm_customers", "postcode", "0123 AB", R + "match_regex:postcode"),
    ("crm_customers", "iban", "NL92" "ABNA" "0417164300", R + "be_valid_iban:iban"),
    ("crm_customers", "birth_date", "1850-06-15", R + "be_between:birth_date"),
    ("crm_customers", "birth_date", "2015-01-01", R + "be_between:birth_date"),
    ("crm_customers", "birth_date", "1985-02-30", R + "be_parseable_datetimes:birth_date"),
    ("crm_customers", "gender", "V", R + "be_in_set:gender"),
    ("crm_customers", "status", None, R + "not_be_null:status"),
    ("crm_customers", "relationship_end", "2019-12-01",
     "expect_column_pair_values_a_to_be_greater_than_b:relationship_end"),
    ("crm_customers", "account_manager", "AM\t01", R + "match_regex:account_manager"),
    ("crm_customers", "exported_at", "2099-01-01 06:00:00", R + "be_between:exported_at"),
    ("orders", "order_id", None, R + "not_be_null:order_id"),
    ("orders", "customer_id", None, R + "not_be_null:customer_id"),
    ("orders", "amount", "twaalf euro", R + "match_regex:amount"),
    ("orders", "amount", "12.345", R + "match_regex:amount"),
    ("orders", "amount", "-5.00", R + "be_between:amount"),
    ("orders", "amount", "250000.00", R + "be_between:amount"),
    ("orders", "margin", "n/a", R + "match_regex:margin"),
    ("orders", "order_date", "2099-06-15", R + "be_between:order_date"),
    ("orders", "order_date", "31-01-2024", R + "be_parseable_datetimes:order_date"),
    ("orders", "channel", "fax", R + "be_in_set:channel"),
    ("orders", "payment_method", "bitcoin", R + "be_in_set:payment_method"),
    ("leads", "lead_id", "L\"12", R + "match_regex:lead_id"),
    ("leads", "phone", "+31 6 1234 567", R + "match_regex:phone"),
    ("leads", "stage", "customer", R + "be_in_set:stage"),
    ("leads", "created_at", "2025-02-30", R + "be_parseable_datetimes:created_at"),
    ("consent_events", "purpose", "sms_marketing", R + "be_in_set:purpose"),
    ("consent_events", "action", "revoked", R + "be_in_set:action"),
    ("consent_events", "notice_version", None, R + "not_be_null:notice_version"),
    ("consent_events", "occurred_at", "gisteren", R + "be_parseable_datetimes:occurred_at"),
    ("consent_events", "occurred_at", "2099-06-15T10:00:00", R + "be_between:occurred_at"),
    ("nps_responses", "score", "11", R + "be_between:score"),
    ("nps_responses", "score", "8.5", R + "match_regex:score"),
    ("nps_responses", "score", None, R + "not_be_null:score"),
    ("interactions", "direction", "sideways", R + "be_in_set:direction"),
    ("interactions", "language", "de", R + "be_in_set:language"),
    ("interactions", "occurred_at", "2026-11-23T13:00:00", R + "be_between:occurred_at"),
]


def _frame(source: str) -> pd.DataFrame:
    """Row 0 is good; row i >= 1 carries CASES' i-th defect of this source; ids stay unique."""
    rows = [dict(GOOD[source])]
    for case_source, column, value, _ in CASES:
        if case_source == source:
            row = dict(GOOD[source], **{ID_COLUMNS[source]: f"{GOOD[source][ID_COLUMNS[source]]}{len(rows)}"})
            rows.append({**row, column: value})
    df = pd.DataFrame(rows, columns=SOURCES[source], dtype=object)
    df.index = df.index * 10 + 7  # labels, not positions, must come back
    return df


@pytest.fixture(scope="module")
def outcomes():
    return {source: (_frame(source), validate(source, _frame(source), NOW)) for source in SOURCES}


def _rules_by_row(outcome) -> dict:
    return outcome.failures.groupby("row_index")["rule"].apply(set).to_dict()


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_each_defect_is_caught_by_its_own_rule(outcomes, source):
    df, outcome = outcomes[source]
    expected = [rule for s, _, _, rule in CASES if s == source]
    found = _rules_by_row(outcome)
    assert {label: found.get(label) for label in df.index[1:]} == {
        label: {rule} for label, rule in zip(df.index[1:], expected)}
    assert df.index[0] not in found, "the good row must pass"
    assert outcome.table_failures == []


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_counts_add_up(outcomes, source):
    df, outcome = outcomes[source]
    assert sum(outcome.rule_counts.values()) == len(outcome.failures)
    assert outcome.rows == len(df)
    assert list(outcome.failures.columns) == ["row_index", "rule"], "no failing values may leave validate"
    assert outcome.success is False


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_good_rows_pass(source):
    outcome = validate(source, _frame(source).iloc[:1], NOW)
    assert outcome.success and outcome.failures.empty and (outcome.rows, outcome.collapsed) == (1, [])
