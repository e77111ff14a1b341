"""Whole-file uniqueness, chunking and table-level failures of `expectations.validate`."""

from datetime import datetime

import pandas as pd

from expectations import validate
from expectations.uniqueness import duplicate_ids

NOW = datetime(2026, 11, 23, 12, 0)
UNIQUE = "expect_column_values_to_be_unique:order_id"


def _orders(ids: list, amounts: list) -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": ids, "customer_id": "C0000001", "order_date": "2024-01-31", "amount": amounts,
        "margin": "1.00", "product_category": "office", "channel": "web", "payment_method": "ideal",
        "_source_line": range(1, len(ids) + 1),
    }, dtype=object)


def test_conflicting_duplicates_all_fail_and_exact_copies_collapse():
    df = _orders(["O000000001", "O000000002", "O000000001", "O000000003", "O000000003", "O000000004"],
                 ["10.00", "20.00", "11.00", "30.00", "30.00", "40.00"])
    outcome = validate("orders", df, NOW)
    assert outcome.failures.to_dict("records") == [{"row_index": 0, "rule": UNIQUE}, {"row_index": 2, "rule": UNIQUE}]
    assert outcome.collapsed == [4]
    assert (outcome.rows, outcome.failed_rows) == (6, 2)  # so 3 pass: 6 - 2 failed - 1 collapsed


def test_an_exact_copy_within_a_conflict_is_not_collapsed():
    conflicts, collapsed = duplicate_ids(
        _orders(["O1", "O1", "O1"], ["1.00", "1.00", "2.00"]), "order_id", ["order_id", "amount"])
    assert (conflicts, collapsed) == ([0, 1, 2], [])


def test_load_metadata_columns_do_not_make_a_conflict():
    df = _orders(["O000000001", "O000000001"], ["10.00", "10.00"])  # _source_line differs
    outcome = validate("orders", df, NOW)
    assert outcome.success and outcome.collapsed == [1]


def test_chunks_give_the_same_answer_and_uniqueness_spans_chunks():
    ids = [f"O{i:09d}" for i in range(9)] + ["O000000000"]
    amounts = ["1.00", "-1.00", "x", "1.00", "1.00", "1.00", "1.00", "1.00", "1.00", "2.00"]
    whole = validate("orders", _orders(ids, amounts), NOW)
    chunked = validate("orders", _orders(ids, amounts), NOW, chunk_rows=3)
    pd.testing.assert_frame_equal(whole.failures, chunked.failures)
    assert set(chunked.failures.loc[chunked.failures["rule"] == UNIQUE, "row_index"]) == {0, 9}


def test_empty_strings_count_as_missing():
    outcome = validate("orders", _orders([""], ["5.00"]), NOW)
    assert outcome.rule_counts == {"expect_column_values_to_not_be_null:order_id": 1}


def test_a_missing_column_fails_the_table_and_skips_its_rules():
    df = _orders(["O000000001"], ["5.00"]).drop(columns=["amount"]).assign(coupon="X")
    outcome = validate("orders", df, NOW)
    assert "expect_table_columns_to_match_set" in outcome.table_failures
    assert "expect_column_values_to_match_regex:amount (column missing)" in outcome.table_failures
    assert outcome.failures.empty and not outcome.success


def test_an_empty_file_passes():
    outcome = validate("orders", _orders([], []), NOW)
    assert outcome.success and outcome.rows == 0
