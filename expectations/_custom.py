"""Two custom Great Expectations column-map expectations (GDPR Art. 5(1)(d), accuracy).

GE 1.x has no IBAN checksum, and its own date-format expectation runs `datetime.strptime` once
per row in Python (about 8 s per million rows here), so both rules are written as vectorised
pandas metrics. Defining the classes registers them with GE, which is why this module imports
great_expectations at the top and is itself only imported lazily by `expectations.suites`.
"""

from typing import ClassVar

import great_expectations as gx  # noqa: F401  (the registry must exist before the classes below)
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
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
