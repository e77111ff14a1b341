"""build_parameters tells a BI reader which marts each setting shapes: the marts it names must be
the marts that read it, or a report would explain a figure by a setting that does not touch it."""

import re

from orchestration.settings import DBT_PROJECT_DIR

MARTS = DBT_PROJECT_DIR / "models" / "marts"
# The columns of int_orders_aggregated_to_subjects and customer_pyramid that the activity window makes.
WINDOW = re.compile(r"activity_window_days|\b(revenue_window|orders_window|revenue_prior_window|revenue_rank)\b")


def _meanings() -> dict[str, str]:
    text = (MARTS / "build" / "build_parameters.sql").read_text()
    return dict(re.findall(r"\('(\w+)', '([^']*)'\)", text))


def _mart_sql() -> dict[str, str]:
    return {p.stem: re.sub(r"--[^\n]*", "", p.read_text()) for p in MARTS.rglob("*.sql")}


def _named(meaning: str, marts) -> set[str]:
    return {m for m in marts if re.search(rf"\b{m}\b", meaning.split(":")[0])}


def test_every_parameter_names_existing_marts():
    marts = _mart_sql()
    for name, meaning in _meanings().items():
        assert _named(meaning, marts), f"{name}: names no mart"


def test_the_activity_window_names_the_marts_that_read_it():
    marts = {m: sql for m, sql in _mart_sql().items() if m != "build_parameters"}
    readers = {m for m, sql in marts.items() if WINDOW.search(sql)}
    assert _named(_meanings()["activity_window_days"], marts) == readers
