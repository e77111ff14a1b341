"""`klantkluis check`: whether a source's files would load, and the csv settings that read them."""

import pytest

from orchestration.cli import main
from orchestration.settings import Paths

HEADER = "order_id;customer_id;order_date;amount;margin;product_category;channel;payment_method\r\n"
ROWS = ["O0000001;C0000001;23-1-2026;2.345,60;-2,5;boeken;web;ideal",
        "O0000002;C0000002;05-01-2026;€ 10;0,00;café;store;ideal",
        "O0000003;C0000003;7-1-2026;8;1;books;web;ideal",
        "O0000004;C0000004;6-1-26;7,5;1,25;books;web;ideal"]  # a two-digit year


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name, value in Paths.from_home(tmp_path).environment().items():
        monkeypatch.setenv(name, value)
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "2026-01-31.csv").write_bytes((HEADER + "\r\n".join(ROWS) + "\r\n").encode("cp1252"))
    return tmp_path


def test_check_names_the_csv_settings_that_read_an_excel_export_then_passes_with_them(home, capsys):
    (home / "sources.yml").write_text("orders:\n  csv: {delimiter: ';'}\n")
    (home / "landing" / "order").mkdir()
    (home / "landing" / "order" / "2026-02-01.csv").write_text(HEADER)
    assert main(["--home", str(home), "check", "orders"]) == 1
    said = capsys.readouterr().out
    assert ("Elsewhere in the landing zone: Warning: 1 file(s) not read (order/2026-02-01.csv): landing/order/ is not a "
            "source's folder: did you mean landing/orders/?") in said
    assert ("2026-01-31.csv: 4 rows in, 0 would load, 4 would be quarantined; the ingest gate would stop it (more "
            "than 50% of its rows would be quarantined); landing day 2026-01-31") in said
    assert ("  3  expect_column_values_to_be_parseable_datetimes:order_date (lines 2, 4, 5): written as YYYY-MM-DD"
            in said)  # what the rule asks, so the export can be fixed
    assert "  1  line is not valid UTF-8 (re-export the file as UTF-8) (line 3)" in said
    assert "  dates: day-first   order_date: dates written day first" in said
    assert '  decimal: ","       amount, margin: numbers with a decimal comma' in said
    assert "  encoding: cp1252   lines that are not UTF-8" in said
    assert 'so: `orders: {csv: {delimiter: ";", dates: day-first, decimal: ",", encoding: cp1252}}`' in said
    assert not any(value in said for value in ("C000000", "O000000", "2.345", "boeken", "23-1-2026"))  # no values
    (home / "sources.yml").write_text("orders:\n  csv: {delimiter: ';', encoding: cp1252, dates: day-first}\n")
    assert main(["--home", str(home), "check", "orders"]) == 1
    said = capsys.readouterr().out  # the settings already given are kept in the suggestion
    assert 'so: `orders: {csv: {delimiter: ";", encoding: cp1252, dates: day-first, decimal: ","}}`' in said
    (home / "sources.yml").write_text("orders:\n  csv: {delimiter: ';', encoding: cp1252, dates: day-first, "
                                      "decimal: ','}\n")
    assert main(["--home", str(home), "check", "orders"]) == 0
    said = capsys.readouterr().out
    assert "4 rows in, 3 would load, 1 would be quarantined; the ingest gate would pass it" in said
    assert "  1  expect_column_values_to_be_parseable_datetimes:order_date (line 5): written as DD-MM-YYYY" in said
    assert "another CSV dialect" not in said  # a two-digit year is no dialect: no setting reads it
    assert not (home / "warehouse.duckdb").exists()  # nothing written


def test_check_of_an_unreadable_file_names_the_fix(home, capsys):
    assert main(["--home", str(home), "check", "orders"]) == 1
    said = capsys.readouterr().out
    assert "2026-01-31.csv: cannot be read." in said and '`csv: {delimiter: ";"}`' in said


def test_check_without_files_says_where_it_looked(home, capsys):
    (home / "sources.yml").write_text("orders:\n  files: exports/orders_*.csv\n")
    assert main(["--home", str(home), "check", "orders"]) == 1
    assert "No files of orders match" in capsys.readouterr().out


def test_check_says_when_a_spreadsheet_dropped_the_phones_leading_zero(home, capsys):
    folder = home / "landing" / "leads"
    folder.mkdir()
    (folder / "2026-01-31.csv").write_text(
        "lead_id,first_name,last_name,email,phone,company,stage,lead_source,created_at,last_contact_at\n"
        "L0000001,Test,Lead,lead1@example.invalid,600000001,,prospect,web,2026-01-02,\n"
        "L0000002,Test,Lead,lead2@example.invalid,31300000002,,prospect,web,2026-01-02,\n"
        "L0000003,Test,Lead,lead3@example.invalid,020 000 0003,,prospect,web,2026-01-02,\n")
    assert main(["--home", str(home), "check", "leads"]) == 1
    said = capsys.readouterr().out
    assert "  2  expect_column_values_to_match_regex:phone (lines 2, 3)" in said
    assert "phone: the values that break its rule are mostly phone numbers without their leading 0 or +" in said
    assert "another CSV dialect" not in said  # no csv setting reads them
    assert not any(value in said for value in ("600000001", "31300000002", "example.invalid", "L000000"))


def test_check_reads_currency_cells_as_the_decimal_comma_setting_reads_them(home, capsys):
    (home / "landing" / "orders" / "2026-01-31.csv").write_text(
        HEADER.replace(";", ",").replace("\r\n", "\n")
        + "".join(f'O000000{i},C000000{i},2026-01-0{i},"€ {i},50",,books,web,ideal\n' for i in range(1, 4)))
    assert main(["--home", str(home), "check", "orders"]) == 1
    said = capsys.readouterr().out
    assert '  decimal: ","       amount: numbers with a decimal comma' in said
    assert 'so: `orders: {csv: {decimal: ","}}`' in said


def test_a_parquet_files_decimal_commas_get_the_export_fix_not_a_csv_setting_none_reads(home, capsys):
    """Review: it suggested `csv: {decimal: ","}`, which reads CSV files only; with it the rows stayed quarantined."""
    import pandas as pd

    (home / "landing" / "orders" / "2026-01-31.csv").unlink()
    pd.DataFrame({"order_id": ["O0000001", "O0000002"], "customer_id": ["C0000001", "C0000002"],
                  "order_date": ["2026-01-01", "2026-01-02"], "amount": ["12,50", "1.234,50"]}
                 ).to_parquet(home / "landing" / "orders" / "2026-01-31.parquet")
    for settings in ("", "orders:\n  csv: {decimal: ','}\n"):
        (home / "sources.yml").write_text(settings)
        assert main(["--home", str(home), "check", "orders"]) == 1
        said = capsys.readouterr().out
        assert ("amount: the values that break its rule are mostly text with a decimal comma (1.234,50) in a Parquet "
                "or JSON Lines file, which no `csv` setting reads: export the column as numbers") in said
        assert "csv: {" not in said and "12,50" not in said


def test_a_file_named_that_does_not_exist_is_said_to_be_missing(home, capsys):
    """Review: it said to check the landing folder setting, which has no part in a path given by hand."""
    missing = home / "nonexist.csv"
    assert main(["--home", str(home), "check", "orders", str(missing)]) == 1
    said = capsys.readouterr().out
    assert f"{missing}: no such file." in said and "landing folder" not in said


def test_a_file_named_after_a_day_with_the_year_last_gets_its_landing_days_name(home, capsys):
    (home / "sources.yml").write_text("orders:\n  csv: {delimiter: ';'}\n")
    (home / "landing" / "orders" / "2026-01-31.csv").rename(home / "landing" / "orders" / "31-01-2026.csv")
    main(["--home", str(home), "check", "orders"])
    assert "no landing day (not named YYYY-MM-DD.*): every run takes it; rename it 2026-01-31.csv" in (
        capsys.readouterr().out)


def test_check_stops_a_file_whose_name_is_not_utf8_as_the_run_does(home, capsys):
    """Review: a landing file named in another encoding is refused by the run (its name is named,
    escaped, with the fix), but `klantkluis check` said the ingest gate would pass it."""
    import os

    (home / "sources.yml").write_text("orders:\n  csv: {delimiter: ';', encoding: cp1252, dates: day-first, "
                                      "decimal: ','}\n")
    with open(os.path.join(os.fsencode(home / "landing" / "orders"), b"orders-\xe9t\xe9.csv"), "wb") as f:
        f.write((HEADER + ROWS[2] + "\r\n").encode())
    assert main(["--home", str(home), "check", "orders"]) == 1
    said = capsys.readouterr().out
    assert "orders-\\xe9t\\xe9.csv: the file's name is not UTF-8 text" in said and "rename it" in said
    assert "2026-01-31.csv: 4 rows in, " in said  # the source's other files are still checked


def test_check_says_what_a_format_rule_asks_and_that_floating_point_amounts_need_rounding(home, capsys):
    """Onboarding review: a rule on a value's form (a Dutch phone or postcode, an amount with cents)
    was named without what it asks, and a Parquet file's floating-point amounts (3.3000000000000003,
    from price times quantity) were quarantined without a word on why."""
    import pandas as pd

    (home / "landing" / "orders" / "2026-01-31.csv").unlink()
    pd.DataFrame({"order_id": ["O0000001", "O0000002", "O0000003", "O 4"], "customer_id": ["C0000001"] * 4,
                  "order_date": ["2026-01-01"] * 4, "amount": [1.1 * 3, 0.1 + 0.2, 12.5, 1.0]}
                 ).to_parquet(home / "landing" / "orders" / "2026-01-31.parquet")
    assert main(["--home", str(home), "check", "orders"]) == 1
    said = capsys.readouterr().out
    assert ("  2  expect_column_values_to_match_regex:amount (lines 1, 2): a number with at most two decimals "
            "(1234.50)") in said
    assert ("  1  expect_column_values_to_match_regex:order_id (line 4): 1 to 64 letters, digits and . _ : / -, "
            "starting with a letter or digit") in said
    assert ("amount: the values that break its rule are mostly numbers with more than two decimals in a Parquet or "
            "JSON Lines file (a floating-point column: binary rounding): round the column to cents") in said
    assert "3.3000" not in said and "0.3000" not in said  # never a value


def test_the_terms_of_the_format_rules_name_dutch_phones_and_postcodes():
    from datetime import datetime, timezone

    from expectations.suites import rule_terms

    terms = rule_terms("crm_customers", datetime(2026, 12, 7, tzinfo=timezone.utc))
    assert terms["expect_column_values_to_match_regex:phone"].startswith("a Dutch phone number")
    assert terms["expect_column_values_to_match_regex:postcode"] == "a Dutch postcode (1234 AB)"
    assert terms["expect_column_values_to_be_valid_iban:iban"].startswith("an IBAN with a correct check")
    assert rule_terms("orders", datetime(2026, 12, 7, tzinfo=timezone.utc), decimal=",")[
        "expect_column_values_to_match_regex:amount"] == "a number with at most two decimals (1.234,50)"


def test_a_whole_number_out_of_range_gets_no_decimal_comma_setting(home, capsys):
    """A score of 11 (or 7 on a 1-5 scale) was taken for a number with a decimal comma, so check
    suggested `csv: {decimal: ","}`, which reads it as the same 11 and leaves it quarantined."""
    folder = home / "landing" / "nps_responses"
    folder.mkdir()
    (folder / "2026-01-31.csv").write_text(
        "response_id,customer_id,responded_at,score,comment\n"
        + "".join(f"R{i},C000000{i},2026-01-0{i} 10:00:00,{score},\n" for i, score in enumerate((11, 12, 8), 1)))
    main(["--home", str(home), "check", "nps_responses"])
    said = capsys.readouterr().out
    assert "2  expect_column_values_to_be_between:score (lines 2, 3): from 0 to 10" in said
    assert "decimal" not in said and "another CSV dialect" not in said
