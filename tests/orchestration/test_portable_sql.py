"""The dbt project's SQL gives the same answer on another engine (DuckDB today; a distributed
engine later): the constructs engines disagree on go through one macro each."""

import re

import yaml

from orchestration.settings import DBT_PROJECT_DIR


def _sql(strings=False):
    """(file, SQL without comments and, unless `strings`, with string literals emptied) of every
    model, macro, test and snapshot."""
    for path in sorted(p for folder in ("models", "macros", "tests", "snapshots")
                       for p in (DBT_PROJECT_DIR / folder).rglob("*.sql")):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
        text = re.sub(r"--[^\n]*", "", text)
        yield path.relative_to(DBT_PROJECT_DIR), text if strings else re.sub(r"'[^']*'", "''", text)


def test_every_division_goes_through_the_ratio_macro():
    """Engines type a division differently (Trino keeps a decimal's scale: 10 / (7 * 1.0) is 1.4
    there, and an integer division drops the fraction); macro ratio casts both sides to a double."""
    divisions = [f"{path}:{text[:m.start()].count(chr(10)) + 1}" for path, text in _sql()
                 for m in re.finditer(r"/", text) if path.name != "ratio.sql"]
    assert divisions == []


def test_the_build_time_becomes_a_date_through_date_of():
    """Casting '2026-11-02 12:00:00' to a date drops the time on DuckDB but fails on Trino."""
    casts = [str(path) for path, text in _sql() if re.search(r"''\s*as\s+date", text, re.I)
             and path.name != "date_of.sql"]
    assert casts == []


def test_latest_first_orders_say_where_nulls_go():
    """Engines put nulls first or last by default; a row without an export time must not win."""
    for path, text in _sql(strings=True):
        for m in re.finditer(r"order by\s[^,]*?exported_at[^,]*", text, re.I | re.S):
            assert "nulls last" in m.group(), f"{path}: {m.group()}"


def test_every_relation_name_fits_every_engine():
    """PostgreSQL (and engines that follow it: Redshift, Greenplum) refuse an identifier longer than
    63 characters; DuckDB takes any length. dbt names a relation after its model, seed or snapshot,
    and a unit test's after the unit test, so each of those names must fit."""
    names = [p.stem for folder in ("models", "seeds") for p in (DBT_PROJECT_DIR / folder).rglob("*")
             if p.suffix in (".sql", ".py", ".csv")]
    for path in (p for folder in ("models", "snapshots") for p in (DBT_PROJECT_DIR / folder).rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        names += [node["name"] for kind in ("unit_tests", "snapshots") for node in document.get(kind) or []]
    assert [name for name in names if len(name) > 63] == []


def test_a_period_is_added_through_add_periods():
    """dbt.dateadd writes interval '1 quarter' on PostgreSQL, which it refuses; macro add_periods
    adds a quarter as three months. A literal 'day' or 'month' may use dbt.dateadd itself."""
    calls = [f"{path}: {m.group()}" for path, text in _sql(strings=True) if path.name != "add_periods.sql"
             for m in re.finditer(r"dbt\.dateadd\(\s*(?!['\"](day|week|month|year)['\"])[^,]*", text)]
    assert calls == []


def _calls(text, name):
    """The argument text of every call of function `name` in `text`."""
    for m in re.finditer(rf"\b{name}\s*\(", text, re.I):
        depth, end = 1, m.end()
        while depth and end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        yield text[m.end():end - 1]


def test_an_amount_is_rounded_to_cents_through_round_money():
    """PostgreSQL has no round(double precision, integer): a float rounded to a number of decimals
    (a CLV prediction in cents) goes through macro round_money, which rounds a numeric there."""
    rounded = [f"{path}: round({args})" for path, text in _sql() if path.name != "round_money.sql"
               for args in _calls(text, "round")
               if "," in re.sub(r"\([^()]*\)|\{\{.*?\}\}", "", args, flags=re.S)]
    assert rounded == []
