"""Values as a person reads them (Art. 12(1): intelligible, in clear and plain language): a time on
the Dutch clock, dates and numbers as Dutch or English readers write them, yes or no. For the pages
of an access export and the dates in a receipt's sentences; json/, csv/ and a receipt's own fields
keep each value as stored (Art. 20)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from privacy.rights import texts
from privacy.rights.requests import LOCAL_TIME

LOCALES = {"nl": "nl_NL", "en": "en_GB"}
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?")
YES_NO = {"nl": ("nee", "ja"), "en": ("no", "yes")}
_PLACEHOLDER = re.compile(f"<({'|'.join(texts.HIDDEN)})>")
# Columns of euros that the raw layer keeps as delivered text ('191.39', staging casts them): the
# pages show them as the amounts they are ('191,39'), like the totals computed from them.
AMOUNTS = frozenset({"amount", "margin"})
_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")


def shown(value, lang: str) -> str:
    """One value as ``lang`` ("nl" or "en") writes it: a time on the Dutch clock (the warehouse
    keeps UTC), a date ('6 januari 2027'), a number, yes or no; text as it is but for redaction's
    placeholders ('<PERSON>' as '[naam afgeschermd]'), JSON for a record."""
    locale = LOCALES[lang]
    if isinstance(value, str) and "<" in value:  # a redaction's placeholder: '[naam afgeschermd]'
        at = texts.LANGUAGES.index(lang)
        return _PLACEHOLDER.sub(lambda m: texts.HIDDEN_AS[at].format(texts.HIDDEN[m[1]][at]), value)
    if isinstance(value, str) and _ISO.fullmatch(value):  # the raw layer keeps times and dates as delivered
        try:
            value = datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        except ValueError:  # no real date ('2026-02-30'): as written
            return value
    if isinstance(value, bool):
        return YES_NO[lang][value]
    if isinstance(value, datetime):
        at = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return format_datetime(at, "d MMMM y, HH:mm", tzinfo=LOCAL_TIME, locale=locale)
    if isinstance(value, date):
        return format_date(value, "d MMMM y", locale=locale)
    if isinstance(value, Decimal) and value.is_finite():
        places = max(0, -value.as_tuple().exponent)  # an amount keeps its cents: 85,50
        return format_decimal(value, format="#,##0" + ("." + "0" * places if places else ""), locale=locale)
    if isinstance(value, int):  # a count or a rank: 1.500 (a yes or no was told above)
        return format_decimal(value, format="#,##0", locale=locale)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        # a probability or a model's estimate: three significant digits below 1, cents above
        return format_decimal(value, format="@@@" if 0 < abs(value) < 1 else "#,##0.##", locale=locale)
    return cell(value)


def amount(column: str, value):
    """``value`` as a ``Decimal`` when ``column`` holds euros (``AMOUNTS``) kept as text; else as it is."""
    if column in AMOUNTS and isinstance(value, str) and _AMOUNT.fullmatch(value):
        return Decimal(value)
    return value


def dated(pair: tuple[str, str], *days: str, **named: str) -> tuple[str, str]:
    """A (Dutch, English) pair with ISO dates written in ('tot {}', 'by {due}') as each language
    writes a date: 'tot 6 januari 2027', 'by 6 January 2027'."""
    return tuple(text.format(*(shown(d, lang) for d in days), **{k: shown(v, lang) for k, v in named.items()})
                 for text, lang in zip(pair, texts.LANGUAGES))


def cell(value) -> str:
    """One value as text, as stored (for CSV): JSON for nested records, empty for null."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
