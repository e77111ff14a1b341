"""One Great Expectations suite per landing source (GDPR Art. 5(1)(d), accuracy).

Every rule is defined here once. `validate` runs the same suite for the ingest gate and uses
GE's unexpected_index_list to quarantine the rows that break a rule. Landing values are text;
rules on numbers and dates read typed helper columns named `<column>__num` / `<column>__dt`,
which `expectations.validate.prepare` derives, and carry `meta.column` so that the rule is
named after the landing column, e.g. "expect_column_values_to_be_between:amount".
"""

from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from expectations import formats as f

if TYPE_CHECKING:
    import great_expectations as gx

SOURCES: dict[str, list[str]] = {
    "crm_customers": ["customer_id", "first_name", "last_name", "email", "phone", "birth_date", "gender",
                      "street", "house_number", "postcode", "city", "iban", "status", "customer_since",
                      "relationship_end", "account_manager", "exported_at"],
    "orders": ["order_id", "customer_id", "order_date", "amount", "margin", "product_category", "channel",
               "payment_method"],
    "leads": ["lead_id", "first_name", "last_name", "email", "phone", "company", "stage", "lead_source",
              "created_at", "last_contact_at"],
    "consent_events": ["event_id", "customer_id", "purpose", "action", "occurred_at", "notice_version", "channel"],
    "nps_responses": ["response_id", "customer_id", "responded_at", "score", "comment"],
    "interactions": ["interaction_id", "customer_id", "channel", "direction", "language", "occurred_at", "text"],
}
ID_COLUMNS = {"crm_customers": "customer_id", "orders": "order_id", "leads": "lead_id",
              "consent_events": "event_id", "nps_responses": "response_id", "interactions": "interaction_id"}


class _Rules:
    """Shorthand for the expectation bundles that recur across sources."""

    def __init__(self, now: datetime):
        import great_expectations as gx

        from expectations import _custom
        self.E, self.C, self.now = gx.expectations, _custom, f.utc(now)

    def required(self, *columns):
        return [self.E.ExpectColumnValuesToNotBeNull(column=c) for c in columns]

    def regex(self, column, pattern):
        return [self.E.ExpectColumnValuesToMatchRegex(column=column, regex=pattern)]

    def in_set(self, column, values):
        return [self.E.ExpectColumnValuesToBeInSet(column=column, value_set=list(values))]

    def key(self, column, pattern=None):
        # Uniqueness spans the whole file; validate() checks it with pandas across all chunks.
        rules = self.required(column) + [self.E.ExpectColumnValuesToBeUnique(column=column, meta={"scope": "file"})]
        return rules + (self.regex(column, pattern) if pattern else [])

    def when(self, column, fmt=f.DATE_FORMAT, low=f.MIN_DATE, high=None):
        return [self.C.ExpectColumnValuesToBeParseableDatetimes(column=column, datetime_format=fmt),
                self.E.ExpectColumnValuesToBeBetween(column=f"{column}__dt", min_value=low,
                                                     max_value=high or self.now, meta={"column": column})]

    def stamp(self, column):
        return self.when(column, f.TIMESTAMP_FORMAT)

    def amount(self, column, low, high, pattern=f.AMOUNT):
        return self.regex(column, pattern) + [self.E.ExpectColumnValuesToBeBetween(
            column=f"{column}__num", min_value=low, max_value=high, meta={"column": column})]


def _crm_customers(r: _Rules) -> list:
    youngest = f.years_before(r.now, f.MIN_CUSTOMER_AGE_YEARS)
    return [*r.key("customer_id", f.CUSTOMER_ID), *r.required("status"),
            *r.regex("email", f.EMAIL), *r.regex("phone", f.PHONE_NL), *r.regex("postcode", f.POSTCODE_NL),
            r.C.ExpectColumnValuesToBeValidIban(column="iban"),
            *r.when("birth_date", low=f.MIN_BIRTH_DATE, high=youngest), *r.in_set("gender", f.GENDERS),
            *r.in_set("status", f.CUSTOMER_STATUSES), *r.when("customer_since"), *r.when("relationship_end"),
            r.E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="relationship_end__dt", column_B="customer_since__dt", or_equal=True,
                ignore_row_if="either_value_is_missing", meta={"column": "relationship_end"}),
            *r.regex("account_manager", f.ACCOUNT_MANAGER), *r.stamp("exported_at")]


def _orders(r: _Rules) -> list:
    return [*r.key("order_id", f.ORDER_ID), *r.required("customer_id", "order_date", "amount"),
            *r.regex("customer_id", f.CUSTOMER_ID), *r.when("order_date"),
            *r.amount("amount", 0, f.MAX_AMOUNT), *r.amount("margin", -f.MAX_AMOUNT, f.MAX_AMOUNT),
            *r.in_set("channel", f.ORDER_CHANNELS), *r.in_set("payment_method", f.PAYMENT_METHODS)]


def _leads(r: _Rules) -> list:
    return [*r.key("lead_id", f.LEAD_ID), *r.required("stage"), *r.regex("email", f.EMAIL),
            *r.regex("phone", f.PHONE_NL), *r.in_set("stage", f.LEAD_STAGES),
            *r.when("created_at"), *r.when("last_contact_at")]


def _consent_events(r: _Rules) -> list:
    # Proof of consent (Art. 7(1)) needs who, what, when, which notice and through which channel.
    return [*r.key("event_id"), *r.required("customer_id", "purpose", "action", "occurred_at",
                                            "notice_version", "channel"),
            *r.regex("customer_id", f.CUSTOMER_ID), *r.in_set("purpose", f.consent_purposes()),
            *r.in_set("action", f.CONSENT_ACTIONS), *r.stamp("occurred_at")]


def _nps_responses(r: _Rules) -> list:
    return [*r.key("response_id"), *r.required("customer_id", "responded_at", "score"),
            *r.regex("customer_id", f.CUSTOMER_ID), *r.stamp("responded_at"),
            *r.amount("score", 0, 10, pattern=f.INTEGER)]


def _interactions(r: _Rules) -> list:
    return [*r.key("interaction_id"), *r.required("customer_id", "occurred_at"),
            *r.regex("customer_id", f.CUSTOMER_ID), *r.in_set("channel", f.INTERACTION_CHANNELS),
            *r.in_set("direction", f.DIRECTIONS), *r.in_set("language", f.LANGUAGES), *r.stamp("occurred_at")]


_BUILDERS = {"crm_customers": _crm_customers, "orders": _orders, "leads": _leads,
             "consent_events": _consent_events, "nps_responses": _nps_responses, "interactions": _interactions}


def missing_suite(source: str) -> str | None:
    """What a landing source declared in the dbt YAML lacks here, with the fix; None when its suite
    is complete (no source loads unvalidated, Art. 5(1)(d))."""
    lacking = [name for name, held in (("SOURCES", SOURCES), ("ID_COLUMNS", ID_COLUMNS), ("_BUILDERS", _BUILDERS))
               if source not in held]
    if not lacking:
        return None
    return (f"unknown landing source {source!r}: it has no expectation suite. In expectations/suites.py, add its "
            "landing columns to SOURCES, its record id column to ID_COLUMNS and a function with its rules to "
            f"_BUILDERS (lacking: {', '.join(lacking)}; README: Add a source). Known: {', '.join(SOURCES)}")


def build_suite(source: str, now: datetime) -> "gx.ExpectationSuite":
    """The expectation suite of one landing source; dates may not lie after `now` (Art. 5(1)(d))."""
    import great_expectations as gx

    if problem := missing_suite(source):
        raise KeyError(problem)
    rules = _Rules(now)
    header = rules.E.ExpectTableColumnsToMatchSet(column_set=SOURCES[source], exact_match=True)
    return gx.ExpectationSuite(name=f"landing.{source}", expectations=[header, *_BUILDERS[source](rules)])


@lru_cache(maxsize=None)
def typed_columns(source: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(numbers, dates, times) among the source's landing columns: those its rules read through
    ``__num`` helpers, and those parsed as a date or as a time. A CSV dialect's settings (decimal
    comma, dates day first, a local time zone) apply to these."""
    rules = build_suite(source, datetime.now(timezone.utc)).expectations
    numbers = {str(getattr(e, "column", "")).removesuffix("__num") for e in rules
               if str(getattr(e, "column", "")).endswith("__num")}
    formats = {e.column: e.datetime_format for e in rules if getattr(e, "datetime_format", None)}
    return (frozenset(numbers), frozenset(c for c, fmt in formats.items() if fmt == f.DATE_FORMAT),
            frozenset(c for c, fmt in formats.items() if fmt == f.TIMESTAMP_FORMAT))


def rule_terms(source: str, now: datetime, day_first: bool = False, decimal: str = ".") -> dict[str, str]:
    """Rule name -> what the rule asks, in words to fix an export by: the values allowed, the range,
    the form of a value (a Dutch phone number, an amount with cents as ``decimal`` writes it), the
    date format as the export writes it (``day_first``: the csv setting `dates: day-first`) (for
    `klantkluis check`; the suite's own terms, never a value from a file)."""
    out = {}
    for expectation in build_suite(source, now).expectations:
        kwargs = expectation.configuration.kwargs
        if kwargs.get("regex") in f.FORM_TERMS:
            example = "1.234,50" if decimal == "," else "1234.50"
            out[rule_name(expectation)] = f.FORM_TERMS[kwargs["regex"]].format(example=example)
        elif expectation.configuration.type == "expect_column_values_to_be_valid_iban":
            out[rule_name(expectation)] = "an IBAN with a correct check digit (country code, two check digits, bank code and account number; spaces allowed)"
        elif kwargs.get("value_set"):
            out[rule_name(expectation)] = "allowed: " + ", ".join(map(str, kwargs["value_set"]))
        elif form := kwargs.get("datetime_format"):
            for code, spelled in (("%Y", "YYYY"), ("%m", "MM"), ("%d", "DD"), ("%H", "hh"), ("%M", "mm"), ("%S", "ss")):
                form = form.replace(code, spelled)
            if day_first:
                form = "DD-MM-YYYY" if form == "YYYY-MM-DD" else "DD-MM-YYYY hh:mm" if form == "ISO8601" else form
            out[rule_name(expectation)] = "written as " + ("ISO 8601 (2026-11-23T09:05:00)" if form == "ISO8601" else form)
        elif kwargs.get("min_value") is not None or kwargs.get("max_value") is not None:
            low, high = (f"{v:%Y-%m-%d}" if isinstance(v, datetime) else f"{v:g}" if isinstance(v, float) else v
                         for v in (kwargs.get("min_value"), kwargs.get("max_value")))
            out[rule_name(expectation)] = f"from {low} to {high}"
    return out


def rule_name(expectation) -> str:
    """"<expectation type>:<landing column>", or the bare type for a table-level rule.

    Accepts an Expectation or the ExpectationConfiguration found in a validation result.
    """
    config = getattr(expectation, "configuration", expectation)
    column = (config.meta or {}).get("column") or config.kwargs.get("column")
    return f"{config.type}:{column}" if column else config.type
