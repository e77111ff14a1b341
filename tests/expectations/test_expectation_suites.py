"""The suites are real Great Expectations suites and read their value sets from the policy."""

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import yaml

from expectations import SOURCES, build_suite, rule_name
from expectations.formats import consent_purposes, iban_is_valid, years_before
from orchestration.demo.identifiers import iban
from privacy.identifiers import iban_ok
from privacy.policy import DEFAULT_POLICY

NOW = datetime(2026, 11, 23, 12, 0)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_each_source_has_a_real_suite(source):
    import great_expectations as gx

    suite = build_suite(source, NOW)
    assert isinstance(suite, gx.ExpectationSuite)
    assert len(suite.expectations) > 5
    names = [rule_name(e) for e in suite.expectations]
    assert len(names) == len(set(names)), "two rules with one name would blur quarantine reasons"
    assert "expect_table_columns_to_match_set" in names
    assert any(n.startswith("expect_column_values_to_be_unique:") for n in names)


def test_unknown_source_is_refused():
    with pytest.raises(KeyError, match="unknown landing source"):
        build_suite("payments", NOW)


def test_consent_purposes_come_from_the_policy_file():
    written = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))["consent_purposes"]
    assert consent_purposes() == sorted(written)
    purpose_rule = next(e for e in build_suite("consent_events", NOW).expectations
                        if rule_name(e) == "expect_column_values_to_be_in_set:purpose")
    assert sorted(purpose_rule.value_set) == sorted(written)


def test_dbt_staging_accepts_the_values_the_ingest_rules_let_in():
    """A value list is written twice, as an ingest rule (expectations) and as dbt's accepted_values test
    on the staging column: a value added to one only would fail every build or quarantine rows."""
    import re

    from orchestration.settings import DBT_PROJECT_DIR

    compared = 0
    for path in (DBT_PROJECT_DIR / "models" / "staging").rglob("*.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            sql = (path.parent / f"{model['name']}.sql").read_text(encoding="utf-8")
            [source] = re.findall(r"source\('\w+', '(\w+)'\)", sql)
            in_set = {e.configuration.kwargs["column"]: e.configuration.kwargs["value_set"]
                      for e in build_suite(source, NOW).expectations if e.configuration.kwargs.get("value_set")}
            for column in model.get("columns", []):
                for test in column.get("data_tests", []):
                    if isinstance(test, dict) and "accepted_values" in test and (name := column["name"]) in in_set:
                        values = test["accepted_values"]["arguments"]["values"]
                        assert sorted(map(str, values)) == sorted(in_set[name]), (model["name"], name)
                        compared += 1
    assert compared >= 4  # status, stage, purpose, action


def test_rule_names_use_the_landing_column_for_helper_columns():
    names = {rule_name(e) for e in build_suite("orders", NOW).expectations}
    assert "expect_column_values_to_be_between:amount" in names
    assert not any("__" in n for n in names)


def test_date_bounds_follow_now():
    birth = next(e for e in build_suite("crm_customers", NOW).expectations
                 if rule_name(e) == "expect_column_values_to_be_between:birth_date")
    assert birth.max_value.date() == years_before(NOW, 16).date()
    assert birth.min_value.year == 1900


def test_iban_checksum():
    values = pd.Series(["NL91" "ABNA" "0417164300", "NL91 ABNA 0417 1643 00", "NL92" "ABNA" "0417164300",
                        "GB82WEST12345698765432", "NL91ABNA041716430", "iban?"])
    assert iban_is_valid(values).tolist() == [True, True, False, True, False, False]


def _with_check_digits(country: str, bban: str) -> str:
    """An IBAN with correct ISO 13616 check digits for `country` and `bban` (letters and digits)."""
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


def test_vectorised_iban_check_agrees_with_iban_ok_value_by_value():
    """The landing rule and the redactor (privacy.identifiers.iban_ok) accept the same IBANs."""
    rng = np.random.default_rng(7)
    valid = iban(rng, 3000).tolist()
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    typos = [v[:i] + alphabet[rng.integers(36)] + v[i + 1:] for v in valid[:1000] for i in [rng.integers(len(v))]]
    # Generated here, like every IBAN in the tests: foreign ones of 15 to 34 characters (NO, GB, MT, LC, the maximum).
    foreign = [_with_check_digits(country, "".join(alphabet[rng.integers(36, size=length)]))
               for country, length in [("NO", 11), ("GB", 18), ("MT", 27), ("LC", 28), ("XX", 30)] for _ in range(20)]
    s = valid[0]
    groups = [s[i:i + 4] for i in range(0, len(s), 4)]
    other = ["", " ", s[:2], " ".join(groups).lower(), s[:-1], s + "0" * 19, s[:2] + "٩١" + s[4:], "-".join(groups),
             "iban?", s[2:4] + s[:2] + s[4:]]
    random = ["".join(alphabet[rng.integers(36, size=rng.integers(10, 40))]) for _ in range(2000)]
    values = valid + [v.lower() for v in valid[:200]] + typos + foreign + other + random
    expected = [iban_ok(v.replace(" ", "").upper()) for v in values]
    assert sum(expected) > 3000 and not all(expected)  # both outcomes are exercised
    assert all(iban_ok(v) for v in foreign)
    assert iban_is_valid(pd.Series(values, index=range(5, 5 + len(values)))).tolist() == expected


def test_years_before_handles_leap_day():
    assert years_before(datetime(2028, 2, 29), 16) == datetime(2012, 2, 29)
    assert years_before(datetime(2028, 2, 29), 17) == datetime(2011, 2, 28)


def test_a_time_passes_validation_exactly_when_the_warehouse_can_read_it():
    """Every ISO 8601 form pandas reads but DuckDB's cast in staging (macro utc_timestamp) does not
    is quarantined at ingest: loaded, it would stop every dbt build at the staging view."""
    import re

    import duckdb

    from expectations.formats import TIMESTAMP_FORMAT, parse_datetimes
    from orchestration.settings import DBT_PROJECT_DIR

    macro = (DBT_PROJECT_DIR / "macros" / "utc_timestamp.sql").read_text()
    duckdb_sql = re.search(r"macro duckdb__utc_timestamp\(column\) -%\}(.*?)\{%- endmacro", macro, re.S).group(1)
    values = ["2026-01-01T10:00:00Z", "2026-01-01 10:00:00Z", "2026-01-01T10:00:00.5+01:00", "2026-01-01T10:00:00-05",
              "2026-01-01T10:00:00+0100", "2026-01-01T10:00", "2026-01-01", "2026-1-1", "2026-01-01T10:00Z",
              "2026-01-01T10:00+01:00", "2026-01-01 10:00:00 Z", "2026-01-01 10:00:00 +01:00", "2026-01-01T10",
              "20260101", "2026-02-30"]
    passes = parse_datetimes(pd.Series(values), TIMESTAMP_FORMAT).notna().tolist()
    con, sql = duckdb.connect(), "select " + duckdb_sql.replace("{{ column }}", "$1")
    for value, passed in zip(values, passes):
        try:
            readable = con.execute(sql, [value]).fetchone()[0] is not None
        except duckdb.Error as exc:
            readable = "Conversion Error" not in str(exc) and exc
        assert passed == readable, repr(value)
    assert passes.count(True) == 8
