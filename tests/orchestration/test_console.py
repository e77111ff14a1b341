"""`klantkluis run` shows dbt's progress in a few lines; failures and dbt's summary as they are."""

import io

from orchestration.console import DbtProgress

DBT = """Running with dbt=1.11.16
1 of 3 START sql view model staging.stg_shop__orders ....... [RUN]
1 of 3 OK created sql view model staging.stg_shop__orders .. [OK in 0.02s]
2 of 3 START test unique_stg_shop__orders_order_id ......... [RUN]
2 of 3 FAIL 4 unique_stg_shop__orders_order_id ............. [FAIL 4 in 0.03s]
3 of 3 START test not_null_stg_shop__orders_subject_id ..... [RUN]
3 of 3 PASS not_null_stg_shop__orders_subject_id ........... [PASS in 0.01s]
Done. PASS=2 WARN=0 ERROR=1 SKIP=0 NO-OP=0 TOTAL=3
"""


def _shown(every: float) -> str:
    out = io.StringIO()
    with DbtProgress(out, every=every) as progress:
        for line in DBT.splitlines(keepends=True):
            progress.write(line[:10])  # print() and dbt write in pieces
            progress.write(line[10:])
        progress.write("no newline yet")
    return out.getvalue()


def test_nodes_that_went_well_become_progress_lines_and_the_rest_passes():
    quiet = _shown(every=3600)
    assert quiet == ("Running with dbt=1.11.16\n2 of 3 FAIL 4 unique_stg_shop__orders_order_id ............. "
                     "[FAIL 4 in 0.03s]\nDone. PASS=2 WARN=0 ERROR=1 SKIP=0 NO-OP=0 TOTAL=3\nno newline yet")
    chatty = _shown(every=0)
    assert "dbt: 1 of 3 models, snapshots and tests done" in chatty and "dbt: 2 of 3" in chatty
    assert "START" not in chatty and "[OK in" not in chatty


def test_dagster_can_capture_the_condensed_output_for_the_ui_through_its_descriptor(tmp_path):
    with open(tmp_path / "out.txt", "w") as out, DbtProgress(out) as progress:
        assert progress.fileno() == out.fileno()  # io.TextIOBase alone has none: the UI's step log stayed empty


def test_colour_codes_go_when_the_output_is_no_terminal():
    """Onboarding review: `klantkluis run > run.log` held dbt's escape codes."""
    out = io.StringIO()
    with DbtProgress(out) as progress:
        progress.write("\x1b[32mCompleted successfully\x1b[0m\n")
    assert out.getvalue() == "Completed successfully\n"
