"""The landing zone's notes (files no run reads, files gone after their load, days after today or
with the year last, second downloads) and `klantkluis unload`, which takes a file loaded by
mistake out of the raw layer."""

import base64
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from orchestration.assets.ingest import build_ingest_asset
from orchestration.cli import main
from orchestration.compaction import uncompacted_since
from orchestration.ingest.context import IngestContext
from orchestration.ingest.landing_zone import column_notes, file_columns, future_days, landing_notes, unread
from orchestration.ingest.writer import load_file
from orchestration.resources import KlantkluisResource
from orchestration.settings import DBT_PROJECT_DIR, Paths, connect_duckdb
from orchestration.summary import reconciliation
from privacy.audit import AuditLog
from privacy.classification import load_classification

HEADER = "order_id,customer_id,order_date,amount,margin,product_category,channel,payment_method\n"
ROW = "O{n:07d},C{n:07d},2026-01-01,10.00,2.00,books,web,ideal\n"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KLANTKLUIS_HOME", str(tmp_path))
    monkeypatch.delenv("KLANTKLUIS_KEY_DIR", raising=False)
    (tmp_path / "landing" / "orders").mkdir(parents=True)
    return tmp_path


def _ingest_orders(home, as_of: str = "2026-02-01T00:00:00+00:00") -> None:
    from orchestration.definitions import SOURCES

    asset = build_ingest_asset(next(t for t in SOURCES if t.name == "orders"))
    with DagsterInstance.ephemeral() as instance:
        assert materialize([asset], resources={"klantkluis": KlantkluisResource(home=str(home))}, instance=instance,
                           tags={"klantkluis/as_of": as_of}).success


def test_files_no_source_reads_are_named_with_the_fix(home):
    landing = home / "landing"
    for name in ("stray.csv", "nps/2026-01-01.csv", "Orders/2026-01-01.csv", "orders/archive/2026-01-01.csv"):
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_text(HEADER)
    (landing / "orders" / "2026-01-01.csv").write_text(HEADER)  # read: no note
    (landing / "orders" / ".hidden.csv").write_text(HEADER)  # hidden: no note
    notes = unread(Paths.from_home(str(home)))
    assert len(notes) == 4 and not any("orders/2026-01-01.csv" in n.split(":")[0] for n in notes)
    assert "(stray.csv): directly in the landing folder" in notes[-1]
    # Review: a file meant for a source, which a run does not load, is a warning (`run --strict` counts it);
    # a subfolder (an archive, say) is a note
    assert [n.startswith("Warning: ") for n in notes] == [True, True, False, True], notes
    assert any("(nps/2026-01-01.csv): landing/nps/ is not a source's folder: did you mean landing/nps_responses/?"
               in n for n in notes)
    assert any("landing/Orders/ is not a source's folder: did you mean landing/orders/?" in n for n in notes)
    assert any("(orders/archive/2026-01-01.csv): in a subfolder" in n for n in notes)


def test_a_folder_of_its_own_that_resembles_a_source_by_chance_stays_a_note(home):
    """Review: folders an operator keeps beside the sources' (processed/, errors/, old/, incoming/)
    were warnings, "did you mean landing/nps_responses/?" and the like, from difflib's loosest match
    (ratio 0.5): `run --strict` exited with 3 on every run. A likely misspelling still warns."""
    landing = home / "landing"
    for folder in ("processed", "errors", "old", "incoming", "consents", "orderss", "crm"):
        (landing / folder).mkdir()
        (landing / folder / "2026-01-01.csv").write_text(HEADER)
    notes = unread(Paths.from_home(str(home)))
    warned = {n.split("not read (")[1].split("/")[0]: n.startswith("Warning: ") for n in notes}
    assert warned == {"processed": False, "errors": False, "old": False, "incoming": False,
                      "consents": True, "orderss": True, "crm": True}, notes


def test_a_source_marked_absent_has_its_files_named(home):
    (home / "sources.yml").write_text("leads:\n  absent: true\n")
    (home / "landing" / "leads").mkdir()
    (home / "landing" / "leads" / "2026-01-01.csv").write_text("x\n")
    [note] = unread(Paths.from_home(str(home)))
    assert note.startswith("1 file(s) not read (leads/2026-01-01.csv): leads is marked `absent: true`")


def test_a_file_named_after_a_later_day_is_named(home):
    (home / "landing" / "orders" / "2062-01-01.csv").write_text(HEADER)
    (home / "landing" / "orders" / "2026-01-01.csv").write_text(HEADER)
    paths = Paths.from_home(str(home))
    assert future_days(paths, date(2026, 1, 1)) == [
        "1 file(s) named after a day after today (orders/2062-01-01.csv): a typo in the name? Rename them to their "
        "export day"]
    assert future_days(paths, date(2062, 1, 1)) == []


def test_a_file_named_after_a_day_with_the_year_last_is_named_with_its_landing_day(home):
    """Review: 07-12-2026.csv had no landing day, so every run took it and it sorted before the dated files."""
    names = ("07-12-2026.csv", "12-25-2026.csv", "2026-12-06.csv", "orders_07-12-2026.csv", "31-02-2026.csv")
    for n, name in enumerate(names):
        (home / "landing" / "orders" / name).write_text(HEADER + ROW.format(n=n))
    assert landing_notes(Paths.from_home(str(home)), duckdb.connect(), date(2026, 12, 31)) == [
        "2 file(s) named after a day with the year last: they have no landing day (every run takes them) and sort out "
        "of export order, so where files hold the same record an older one's row can win; rename "
        "orders/07-12-2026.csv to 2026-12-07.csv, orders/12-25-2026.csv to 2026-12-25.csv (read day first where "
        "either order is a date); one a run loaded already: move it out, `klantkluis unload SOURCE FILE`, then put it "
        "back under its new name"]


def test_a_file_whose_name_is_not_utf8_is_a_warning_in_the_status_too(home):
    """Diff review: such a file failed its source's step every run, but the run summary's and
    `klantkluis status`'s landing notes said nothing of it (a warning: `run --strict` counts it)."""
    import os

    with open(os.path.join(os.fsencode(home / "landing" / "orders"), b"orders-\xe9t\xe9.csv"), "w") as f:
        f.write(HEADER + ROW.format(n=1))
    [note] = landing_notes(Paths.from_home(str(home)), duckdb.connect(), date(2026, 12, 31))
    assert note.startswith("Warning: orders: ") and "orders-\\xe9t\\xe9.csv: the file's name is not UTF-8" in note


def test_a_second_download_of_a_file_is_named_beside_the_first(home):
    """Review: `2026-12-06 (1).csv` was loaded again beside `2026-12-06.csv`, its rows counted twice."""
    (home / "landing" / "consent_events").mkdir()
    folder = home / "landing" / "consent_events"
    (folder / "2026-12-06.csv").write_text(HEADER + ROW.format(n=1))
    (folder / "2026-12-06 (1).csv").write_text(HEADER + ROW.format(n=1))
    (folder / "2026-12-07.csv").write_text(HEADER + ROW.format(n=1))  # dated files alike: both days' exports
    (folder / "other.csv").write_text(HEADER + ROW.format(n=2))  # the same size, other bytes
    (home / "landing" / "orders" / "2026-12-06 (1).csv").write_text(HEADER + ROW.format(n=1))  # another source's
    head = HEADER + "".join(ROW.format(n=n) for n in range(5000))  # past the first block compared
    (folder / "big.csv").write_text(head + ROW.format(n=1))
    (folder / "big (1).csv").write_text(head + ROW.format(n=2))  # the same size and first block, other bytes
    assert landing_notes(Paths.from_home(str(home)), duckdb.connect(), date(2026, 12, 31)) == [
        "consent_events: 2026-12-06 (1).csv holds the same bytes as 2026-12-06.csv: if it is a second download, its "
        "rows are loaded twice and count twice in the in and loaded counts; move it out of the landing zone, then "
        "`klantkluis unload consent_events 2026-12-06 (1).csv`"]


def test_a_renamed_file_is_noted_and_unload_takes_its_rows_out(home, capsys):
    folder = home / "landing" / "orders"
    (folder / "2026-01-01.csv").write_text(HEADER + "".join(ROW.format(n=n) for n in range(1, 5)))
    (folder / "2062-01-02.csv").write_text(HEADER + ROW.format(n=9))  # a typo in the year
    _ingest_orders(home)
    (folder / "2062-01-02.csv").rename(folder / "2026-01-02.csv")  # corrected after its load
    _ingest_orders(home)
    paths = Paths.from_home(str(home))
    with connect_duckdb(paths.warehouse, read_only=True) as con:
        assert reconciliation(con) == [("orders", 6, 6, 0, 0)]  # the row counts twice
        [note] = landing_notes(paths, con, date(2026, 2, 1))
    assert note.startswith("orders: 1 file(s) loaded earlier are gone from ")
    assert "(2062-01-02.csv), not by their retention rule; their 1 rows stay in raw.orders" in note
    assert "`klantkluis unload orders FILE`" in note

    assert main(["--home", str(home), "unload", "consent_events", "req-0123456789abcdef0123.csv"]) == 2
    assert "holds the consent events of data subject request req-0123456789abcdef0123" in capsys.readouterr().err
    assert main(["--home", str(home), "unload", "orders", "2026-01-02.csv"]) == 2  # still there: it would come back
    assert "still among the landing files of orders" in capsys.readouterr().err
    assert not uncompacted_since(paths)
    assert main(["--home", str(home), "unload", "orders", "2062-01-02.csv"]) == 0
    assert "orders/2062-01-02.csv unloaded: 1 rows taken out of raw.orders" in capsys.readouterr().out
    assert uncompacted_since(paths)  # the deleted bytes leave the file at the next compaction
    with connect_duckdb(paths.warehouse, read_only=True) as con:
        assert reconciliation(con) == [("orders", 5, 5, 0, 0)]
        assert con.execute("select count(*) from raw.orders where _source_file = '2062-01-02.csv'").fetchone()[0] == 0
        assert landing_notes(paths, con, date(2026, 2, 1)) == []
    [entry] = [e for e in AuditLog(paths.audit_log).entries() if e["event"] == "landing_file_unloaded"]
    assert entry["details"] | {"batch_id": None} == {"batch_id": None, "source": "orders", "file": "2062-01-02.csv",
                                                    "rows": 1, "quarantined": 0}
    assert main(["--home", str(home), "unload", "orders", "2062-01-02.csv"]) == 2  # nothing left to take out
    assert "orders holds no rows of a file named 2062-01-02.csv" in capsys.readouterr().err

    (folder / "2062-01-02.csv").write_text(HEADER + ROW.format(n=9))  # placed again: loaded anew
    _ingest_orders(home, (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat())  # after the unload
    with connect_duckdb(paths.warehouse, read_only=True) as con:
        assert reconciliation(con) == [("orders", 6, 6, 0, 0)]


def test_unload_before_any_load_says_so_and_makes_no_warehouse(home, capsys):
    """Review: it ended in a traceback and left an empty warehouse file behind."""
    assert main(["--home", str(home), "unload", "orders", "2026-01-01.csv"]) == 2
    assert "nothing is loaded" in capsys.readouterr().err
    assert not Paths.from_home(str(home)).warehouse.exists()


def test_a_sources_yml_that_cannot_be_read_is_the_one_note(home):
    """Review: `status` stopped after its first line on a broken sources.yml; its counts still help."""
    (home / "sources.yml").write_text("orders:\n  colums: {}\n")
    [note] = landing_notes(Paths.from_home(str(home)), None, date(2026, 1, 1))
    assert "unknown key(s) colums" in note


def test_a_renamed_or_dropped_optional_column_is_a_warning_and_columns_not_read_are_named(home, capsys):
    """Operations review (Art. 5(1)(d), accuracy): an export that renamed `margin` to `gross_margin`
    and added `delivery_method` loaded with 0 margins and no word: the columns not read were named
    by `klantkluis check` only. Now the ingest step's log and metadata, the run summary and
    `klantkluis status` name them, and a column the file before had is a warning, with its fix."""
    import logging

    from orchestration.definitions import SOURCES

    folder = home / "landing" / "orders"
    (folder / "2026-01-01.csv").write_text(HEADER + "".join(ROW.format(n=n) for n in range(1, 4)))
    _ingest_orders(home)
    renamed = HEADER.replace("margin", "gross_margin").replace("\n", ",delivery_method\n")
    (folder / "2026-01-02.csv").write_text(renamed + "".join(ROW.format(n=n).replace("\n", ",post\n")
                                                             for n in range(4, 7)))
    asset = build_ingest_asset(next(t for t in SOURCES if t.name == "orders"))
    with DagsterInstance.ephemeral() as instance:
        result = materialize([asset], resources={"klantkluis": KlantkluisResource(home=str(home))}, instance=instance,
                             tags={"klantkluis/as_of": "2026-02-01T00:01:00+00:00"})
        logged = [(e.level, e.user_message) for e in instance.all_logs(result.run_id) if e.user_message]
    assert result.success  # a warning, not a failure: the rows are there, their margins are not
    [warned] = [m for level, m in logged if level == logging.WARNING]
    assert warned.startswith("orders/2026-01-02.csv lacks margin, which 2026-01-01.csv had: the rows it loaded hold "
                             "no margin (null), nor do the marts built from them")
    assert "map it under the source's `columns` in sources.yml" in warned and "gross_margin, delivery_method" in warned
    assert any("1 file(s) (2026-01-02.csv) have column(s) not read: gross_margin, delivery_method" in m
               for level, m in logged if level == logging.INFO)
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["files_with_columns_lost"].value == 1
    assert ("| 2026-01-02.csv | gross_margin, delivery_method | margin (null; 2026-01-01.csv had it) |"
            in metadata["landing_columns"].value)

    (folder / "2026-01-03.csv").write_text(HEADER.replace(",margin", "") + "O0000009,C0000009,2026-01-03,10.00,"
                                           "books,web,ideal\n")  # as the file before: a note, no second warning
    _ingest_orders(home, "2026-02-01T00:02:00+00:00")
    paths = Paths.from_home(str(home))
    with connect_duckdb(paths.warehouse, read_only=True) as con:
        notes = landing_notes(paths, con, date(2026, 2, 1))
        assert con.execute("select _source_file, count(margin) from raw.orders group by 1 order by 1").fetchall() == [
            ("2026-01-01.csv", 3), ("2026-01-02.csv", 0), ("2026-01-03.csv", 0)]
    assert [n.split(":")[0] for n in notes] == ["Warning", "orders", "orders"]
    assert notes[0].startswith("Warning: orders/2026-01-02.csv lacks margin, which 2026-01-01.csv had")
    assert notes[2].startswith("orders: 1 file(s) (2026-01-03.csv) lack the optional column(s) margin: their rows "
                               "hold none (null)")
    assert main(["--home", str(home), "status"]) == 0
    said = capsys.readouterr().out
    assert "Landing zone (files whose rows or columns are not where you may expect them):\n  Warning: orders/" in said
    assert "C0000004" not in said + "".join(m for _, m in logged)  # names only, never values


def test_a_column_declared_by_an_upgrade_is_lost_only_where_the_file_before_had_it(home, monkeypatch):
    """Review: after an upgrade that declares a new optional column, the first file without it was
    warned to have lost it, "which <the file before> had", though that file was loaded before the
    column was declared. A column is lost now only where the file before recorded having it; a
    renamed column still warns, and a load recorded before the columns a file has were is not compared."""
    monkeypatch.setenv("KLANTKLUIS_MASTER_KEY", base64.b64encode(b"m" * 32).decode())
    monkeypatch.setenv("KLANTKLUIS_PSEUDONYM_KEY", base64.b64encode(b"p" * 32).decode())
    orders = next(t for t in load_classification(DBT_PROJECT_DIR).tables if t.layer == "source" and t.name == "orders")
    older = replace(orders, columns=tuple(c for c in orders.columns if c.name != "channel"))  # the release before
    folder, header = home / "landing" / "orders", HEADER.replace(",channel", "")
    rows = "".join(ROW.format(n=n).replace(",web", "") for n in range(1, 4))
    (folder / "2026-01-01.csv").write_text(header + rows)
    (folder / "2026-01-02.csv").write_text(header.replace("margin", "gross_margin") + rows)  # margin renamed
    paths = Paths.from_home(str(home))
    with duckdb.connect(str(paths.warehouse)) as con:
        for table, name, day in ((older, "2026-01-01.csv", 1), (orders, "2026-01-02.csv", 2)):
            ctx = IngestContext.open(paths, datetime(2026, 2, day, tzinfo=timezone.utc))
            assert load_file(con, table, folder / name, ctx).loaded == 3
            ctx.close()
        _, after = file_columns(con, "orders")
        warned, noted = column_notes([after], "sources.yml")
        assert (after.missing, after.lost, after.before) == (("margin", "channel"), ("margin",), "2026-01-01.csv")
        [warning] = warned
        assert warning.startswith("orders/2026-01-02.csv lacks margin, which 2026-01-01.csv had: the rows it loaded "
                                  "hold no margin (null)")
        assert noted[-1].startswith("orders: 1 file(s) (2026-01-02.csv) lack the optional column(s) channel:")
        con.execute("update raw._batches set columns_read = null where file = '2026-01-01.csv'")
        assert [f.lost for f in file_columns(con, "orders")] == [(), ()]  # recorded before columns_read: not compared


def test_a_loaded_file_the_files_glob_no_longer_matches_is_not_called_gone(home):
    """Onboarding review: after a typo in the `files` glob the note said the loaded file was gone, not
    by its retention rule, and offered `klantkluis unload`, which would take its rows out while the
    file still sat where the export puts it."""
    exports = home / "exports"
    exports.mkdir()
    (exports / "orders_001.csv").write_text(HEADER + ROW.format(n=1))
    (home / "sources.yml").write_text("orders:\n  files: exports/orders_*.csv\n")
    _ingest_orders(home)
    (home / "sources.yml").write_text("orders:\n  files: exports/Orders_*.csv\n")  # the glob mistyped since
    paths = Paths.from_home(str(home))
    with connect_duckdb(paths.warehouse, read_only=True) as con:
        [note] = landing_notes(paths, con, date(2026, 2, 1))
    assert note.startswith("orders: 1 file(s) loaded earlier (orders_001.csv) are still in ")
    assert "the `files` glob of orders in sources.yml no longer matches them" in note and "unload" not in note


def test_a_misspelt_folder_of_a_source_read_through_files_points_at_its_glob(home):
    """Onboarding review: `landing/order/` got "did you mean landing/orders/?" though orders reads a
    `files` glob elsewhere, so the file moved there would not be read either."""
    (home / "sources.yml").write_text("orders:\n  files: exports/orders_*.csv\n")
    (home / "landing" / "order").mkdir()
    (home / "landing" / "order" / "2026-01-01.csv").write_text(HEADER)
    [note] = unread(Paths.from_home(str(home)))
    assert "landing/order/ is not a source's folder: did you mean orders? sources.yml reads orders through " \
           "its `files` glob" in note and "exports/orders_*.csv" in note


def test_a_folder_for_a_source_not_declared_yet_points_to_how_to_add_one(home):
    """New-source walkthrough: landing/support_tickets/ was only "not a source's folder: the folders
    read are ...", with no word on how a folder becomes a source's."""
    (home / "landing" / "support_tickets").mkdir()
    (home / "landing" / "support_tickets" / "2026-01-01.csv").write_text("ticket_id\n")
    [note] = unread(Paths.from_home(str(home)))
    assert note.endswith("landing/support_tickets/ is not a source's folder: the folders read are consent_events, "
                         "crm_customers, interactions, leads, nps_responses, orders; a new source is read once it is "
                         "declared (README: Add a source)")
