"""Three custom Great Expectations expectations (GDPR Art. 5(1)(d), accuracy).

GE 1.x has no IBAN checksum, its own date-format expectation runs `datetime.strptime` once per
row in Python (about 8 s per million rows here), and it has no "B must be given when A has this
value" rule (an ended relationship needs its end date: retention counts from it, Art. 5(1)(e)),
so these are written as vectorised pandas metrics. Defining the classes registers them with GE, which is why this module imports
great_expectations at the top and is itself only imported lazily by `expectations.suites`.
"""

from typing import ClassVar

import great_expectations as gx  # noqa: F401  (the registry must exist before the classes below)
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from expectations.formats import iban_is_valid, parse_datetimes


class ColumnValuesValidIban(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_iban"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return iban_is_valid(column.astype(str))


class ExpectColumnValuesToBeValidIban(ColumnMapExpectation):
    """Expect each value to be an IBAN with a correct ISO 13616 mod-97 check (spaces allowed)."""

    map_metric = "column_values.valid_iban"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict] = {"maturity": "experimental", "tags": ["klantkluis"],
                                        "contributors": ["klantkluis"]}


class ColumnValuesParseableDatetimes(ColumnMapMetricProvider):
    condition_metric_name = "column_values.parseable_datetimes"
    condition_value_keys = ("datetime_format",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, datetime_format, **kwargs):
        return parse_datetimes(column.astype(str), datetime_format).notna()


class ExpectColumnValuesToBeParseableDatetimes(ColumnMapExpectation):
    """Expect each value to be a real calendar date or time in `datetime_format`.

    `datetime_format` is a strftime pattern or "ISO8601". Unlike a regex this rejects dates that
    do not exist (2023-02-30), which would otherwise load as NULL and escape the range rules.
    """

    datetime_format: str
    map_metric = "column_values.parseable_datetimes"
    success_keys = ("datetime_format", "mostly")
    args_keys = ("column", "datetime_format")
    library_metadata: ClassVar[dict] = {"maturity": "experimental", "tags": ["klantkluis"],
                                        "contributors": ["klantkluis"]}


class ColumnPairValuesBPresentWhenA(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.b_present_when_a"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser",
                             "ignore_row_if")
    condition_value_keys = ("value_A",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, value_A, **kwargs):
        return column_B.notna() | column_A.ne(value_A)


class ExpectColumnPairValuesBToBePresentWhenA(ColumnPairMapExpectation):
    """Expect column B to hold a value in every row where column A equals `value_A` (a customer
    whose status is "ended" has a relationship_end)."""

    value_A: str
    ignore_row_if: str = "neither"  # a missing B is what this rule looks for
    map_metric = "column_pair_values.b_present_when_a"
    success_keys = ("value_A", "ignore_row_if", "mostly")
    args_keys = ("column_A", "column_B", "value_A")
    library_metadata: ClassVar[dict] = {"maturity": "experimental", "tags": ["klantkluis"],
                                        "contributors": ["klantkluis"]}
