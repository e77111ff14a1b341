"""Expectation suites per landing source and the row-level quarantine built on them.

Importing this package does not import great_expectations (about 3 s); the suites and
`validate` import it on first use.
"""

from expectations.suites import ID_COLUMNS, SOURCES, build_suite, rule_name
from expectations.validate import ValidationOutcome, validate

__all__ = ["ID_COLUMNS", "SOURCES", "ValidationOutcome", "build_suite", "rule_name", "validate"]
