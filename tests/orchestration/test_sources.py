"""Which landing files a source takes, and which landing days a run is split into."""

import pytest

from orchestration.ingest.reader import LandingFileError
from orchestration.ingest.sources import landing_day, no_files_message, pending_days, read_as, source_files
from orchestration.resources import KlantkluisResource
from orchestration.settings import Paths


def _landing(tmp_path, source, *names):
    folder = tmp_path / "landing" / source
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("x\n")
    return Paths.from_home(tmp_path)


def test_every_visible_file_is_taken_so_an_unknown_type_is_reported_not_ignored(tmp_path):
    paths = _landing(tmp_path, "orders", "2026-11-01.CSV", "2026-11-02.xlsx", ".2026-11-03.csv.swp")
    assert [p.name for p in source_files(paths, "orders")] == ["2026-11-01.CSV", "2026-11-02.xlsx"]


def test_only_date_named_files_split_a_run_into_landing_days(tmp_path):
    paths = _landing(tmp_path, "orders", "orders_2026-11-01.csv", "orders_2026-11-02.csv")
    _landing(tmp_path, "leads", "2026-11-01.csv", "2026-11-02.csv")
    assert landing_day(tmp_path / "2026-11-01.csv") == "2026-11-01" and landing_day(tmp_path / "x_2026-11-01.csv") is None
    assert pending_days(paths) == ["2026-11-01", "2026-11-02"]
    resource = KlantkluisResource(home=str(tmp_path))
    # Files named otherwise are taken by every day's run (loaded once, then unchanged and skipped).
    assert [p.name for p in resource.landing_files("orders", "2026-11-01")] == ["orders_2026-11-01.csv",
                                                                               "orders_2026-11-02.csv"]
    assert [p.name for p in resource.landing_files("leads", "2026-11-01")] == ["2026-11-01.csv"]


def test_files_found_through_sources_yml_split_a_run_into_landing_days_too(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    for name in ("2026-11-01.csv", "2026-11-03.csv"):
        (exports / name).write_text("x\n")
    (tmp_path / "sources.yml").write_text("orders:\n  files: exports/*.csv\n")
    assert pending_days(Paths.from_home(tmp_path)) == ["2026-11-01", "2026-11-03"]  # no landing/ folder at all


def test_demo_writes_no_fake_people_into_an_installation_that_reads_your_own_files(tmp_path, monkeypatch, capsys):
    from orchestration.cli import main

    for name, value in Paths.from_home(tmp_path).environment().items():
        monkeypatch.setenv(name, value)
    (tmp_path / "sources.yml").write_text("orders:\n  files: exports/*.csv\n")
    assert main(["--home", str(tmp_path), "demo", "--customers", "50"]) == 0
    assert "no demo data written" in capsys.readouterr().out and not (tmp_path / "landing").exists()


def test_a_source_marked_absent_has_no_files_and_no_files_get_the_fix_for_where_they_were_looked_for(tmp_path):
    paths = _landing(tmp_path, "leads", "2026-11-01.csv")
    assert f"Run `klantkluis --home {tmp_path} demo`" in no_files_message(paths, "orders", loaded_before=False)  # a demo installation
    (tmp_path / "sources.yml").write_text("leads:\n  absent: true\norders:\n  files: exports/*.csv\n")
    assert source_files(paths, "leads") == []  # absent wins over files left in landing/leads/
    assert no_files_message(paths, "orders", loaded_before=False).startswith(f"No files of orders match {tmp_path / 'exports/*.csv'} "
                                                        "(its `files` in")
    said = no_files_message(paths, "nps_responses", loaded_before=False)
    assert "mark it `absent: true` there" in said and "klantkluis demo" not in said  # demo refuses here


def test_files_naming_a_folder_says_to_give_a_glob_of_its_files(tmp_path):
    """Onboarding review: `files: /exports/shop/` got "correct the glob, or place the export there",
    though the exports were there."""
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "orders_001.parquet").write_bytes(b"")
    (tmp_path / "sources.yml").write_text("orders:\n  files: exports/\n")
    said = no_files_message(Paths.from_home(tmp_path), "orders", loaded_before=False)
    assert said == (f"{tmp_path / 'exports'} (the `files` of orders in {tmp_path / 'sources.yml'}) is a folder: "
                    f"`files` takes a glob of the files in it, such as {tmp_path / 'exports' / '*.parquet'}.")


def test_absent_says_what_happens_to_rows_loaded_earlier_and_files_left_in_the_landing_folder(tmp_path):
    import duckdb

    from orchestration.assets.ingest import absent_message

    paths = Paths.from_home(tmp_path)
    con = duckdb.connect()
    assert absent_message(con, paths, "leads") == "leads: marked `absent: true` in sources.yml: nothing is loaded, " \
                                                  "its table stays empty"
    con.execute("create schema raw; create table raw.leads as select range as id from range(61)")
    (paths.landing / "leads").mkdir(parents=True)
    (paths.landing / "leads" / "2026-11-01.csv").write_text("lead_id\n")
    said = absent_message(con, paths, "leads")
    assert "the 61 rows loaded earlier stay in raw.leads until their retention rule" in said
    assert f"1 file(s) in {paths.landing / 'leads'} are not read" in said


@pytest.mark.parametrize("written, encoding, delimiter, zone", [
    ("{encoding: windows-1252}", "cp1252", ",", None), ("{encoding: CP1252}", "cp1252", ",", None),
    ("{encoding: UTF8}", "utf-8", ",", None), ('{delimiter: "\\t"}', "utf-8", "\t", None),
    ("{delimiter: tab}", "utf-8", "\t", None), ('{delimiter: "|"}', "utf-8", "|", None),
    ("{time_zone: Europe/Amsterdam}", "utf-8", ",", "Europe/Amsterdam"), ("{time_zone: UTC}", "utf-8", ",", None)])
def test_every_documented_csv_setting_is_taken_in_any_spelling_of_it(tmp_path, written, encoding, delimiter, zone):
    """Review: a quoted tab was stripped away."""
    (tmp_path / "sources.yml").write_text(f"orders:\n  csv: {written}\n")
    how = read_as(Paths.from_home(tmp_path), "orders")
    assert (how.encoding, how.delimiter, how.time_zone) == (encoding, delimiter, zone)


@pytest.mark.parametrize("written, said", [
    ("{encoding: latin-1}", "csv encoding 'latin-1' is not one this reader knows; use one of 'utf-8', 'cp1252'"),
    ("{time_zone: Europe/Amsterdamm}", "csv time_zone 'Europe/Amsterdamm' is not one this reader knows"),
    ("{time_zone: localtime}", "csv time_zone 'localtime' is not one"),  # the machine's clock, whatever it is
    ("{time_zone: posix/Europe/Amsterdam}", "csv time_zone 'posix/Europe/Amsterdam' is not one")])
def test_a_setting_that_would_misread_the_file_is_refused(tmp_path, written, said):
    """Walkthrough: latin-1 read cp1252's euro sign and curly quotes as control characters."""
    (tmp_path / "sources.yml").write_text(f"orders:\n  csv: {written}\n")
    with pytest.raises(LandingFileError, match=said):
        read_as(Paths.from_home(tmp_path), "orders")


def test_a_bare_bar_as_delimiter_is_refused_with_the_quotes_to_write(tmp_path):
    (tmp_path / "sources.yml").write_text("orders:\n  csv:\n    delimiter: |\n")  # YAML: an empty block scalar
    with pytest.raises(LandingFileError, match=r'write it in quotes: `delimiter: "\|"`'):
        read_as(Paths.from_home(tmp_path), "orders")


def test_a_date_cells_midnight_is_dropped_whether_or_not_csv_settings_are_given(tmp_path):
    """Onboarding review: `2026-01-01 00:00:00` in order_date was quarantined in a CSV without csv
    settings, but loaded once `csv: {encoding: utf-8}` (the default, written out) was added."""
    from orchestration.ingest.reader import read_landing_table

    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,order_date,amount\nO1,C1,2026-01-01 00:00:00,1.00\nO2,C1,2026-01-02T10:00,1\n")
    paths = Paths.from_home(tmp_path)
    days = []
    for settings in ("", "orders:\n  csv: {encoding: utf-8}\n"):
        (tmp_path / "sources.yml").write_text(settings)
        days.append(read_landing_table(path, ["order_id", "customer_id", "order_date", "amount"],
                                       read_as(paths, "orders")).rows.column("order_date").to_pylist())
    assert days == [["2026-01-01", "2026-01-02T10:00"]] * 2  # another time stays, for its rule
