"""`klantkluis breach`: what a file that leaked exposes, and the breach recorded with a draft
notification (GDPR Art. 33, 34). The logic is in ``privacy.breach`` and ``privacy.breach_register``."""

import sys
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from expectations.suites import SOURCES as LANDING_SOURCES
from orchestration.cli_args import moment
from orchestration.ingest.reader import LandingFileError
from orchestration.settings import DBT_PROJECT_DIR, Paths, connect_duckdb


def assessment(paths: Paths, file: Path, source: str | None = None):
    """The assessment of ``file``: a DuckDB file this product made (the warehouse, a backup, the
    published marts) or a landing file of ``source`` (default: the source whose folder holds it)."""
    import duckdb

    from orchestration.ingest.reader import read_landing_table
    from orchestration.ingest.schema import landing_columns
    from orchestration.ingest.sources import read_as
    from orchestration.publish import DICTIONARY
    from privacy.breach import assess_duckdb, assess_landing, is_duckdb
    from privacy.classification import load_classification, load_seeds

    if not file.is_file():
        raise LandingFileError(f"{file}: no such file; give the file that leaked, or the file it is a copy of")
    classification = load_classification(DBT_PROJECT_DIR)
    if is_duckdb(file) or file.suffix == ".parquet":
        try:
            with _opened(file) as con:
                found = assess_duckdb(con, str(file), classification, seeds=load_seeds(DBT_PROJECT_DIR),
                                      non_personal=[DICTIONARY])
            return replace(found, kind="parquet") if file.suffix == ".parquet" else found
        except duckdb.Error as exc:  # DuckDB's own text may quote what the file holds: its class only
            raise LandingFileError(f"{file}: DuckDB cannot read it ({type(exc).__name__}): a copy cut short or "
                                   "damaged, or one written by a newer DuckDB; assess the file it is a copy of "
                                   "(the warehouse, the backup, published/marts.duckdb or the mart's Parquet file "
                                   "in published/parquet/current/)") from None
    source = source or _source_of(paths, file)
    table = classification.table(source, "source")
    # what the file holds, whatever it lacks: each of the source's columns is optional here
    columns = landing_columns(table)
    read = read_landing_table(file, columns, read_as(paths, source, typed=False), frozenset(columns))
    if len(read.missing_columns) == len(columns):  # its first line is no header of ours: maybe data, never shown
        raise LandingFileError(f"{file}: none of the columns of {source} is in its first line: give the file's "
                               "source with --source, or, for a file without a header row, put the header of its "
                               "source's exports above it in a copy and assess that")
    return assess_landing(str(file), table, read.rows.drop_columns(read.missing_columns), read.input_rows,
                          unknown=read.ignored_columns)


@contextmanager
def _opened(file: Path):
    """The DuckDB file, read only; a published mart's Parquet file (published/parquet/<version>/<mart>.parquet)
    as the table of that mart in a database in memory, so it is judged as the mart in marts.duckdb is."""
    if file.suffix != ".parquet":
        with connect_duckdb(file, read_only=True) as con:
            yield con
        return
    import duckdb

    with duckdb.connect() as con:
        con.execute(f'create table "{file.stem.replace(chr(34), chr(34) * 2)}" as select * from read_parquet(?)',
                    [str(file)])
        yield con


def _source_of(paths: Paths, file: Path) -> str:
    from orchestration.ingest.sources import source_location

    folder = file.resolve().parent
    if folder == paths.key_dir.resolve():
        raise LandingFileError(f"{file} is key material, which no assessment reads: with master.key and "
                               "keystore.sqlite together every copy of the warehouse decrypts (README: *A personal "
                               "data breach*, the key folder)")
    if folder == paths.outbox.resolve():
        raise LandingFileError(f"{file} is an answer to a data subject request: an access export holds that one "
                               "subject's data in plain (its receipt beside it names the request)")
    for source in LANDING_SOURCES:
        if folder.name == source or folder == source_location(paths, source).resolve():
            return source
    raise LandingFileError(f"{file} is neither a DuckDB file nor in the folder of a source: name its source with "
                           f"--source ({', '.join(sorted(LANDING_SOURCES))})")


def _assess(args, paths: Paths) -> int:
    from privacy.breach import render

    print(render(assessment(paths, Path(args.file), args.source), str(paths.key_dir)))
    return 0


def _record(args, paths: Paths) -> int:
    """Record a breach in the register (Art. 33(5)) and write the draft notification (Art. 33(3))."""
    from privacy.breach import verdict
    from privacy.breach_register import local, record_breach, write_notification
    from privacy.policy import load_policy

    now = datetime.now(timezone.utc)
    discovered = args.discovered if args.discovered.tzinfo else args.discovered.replace(tzinfo=timezone.utc)
    if discovered > now:
        print(f"Error: --discovered {discovered.isoformat()} is later than now: give the time you became aware of "
              "the breach", file=sys.stderr)
        return 2
    policy = load_policy()  # a policy.yml that cannot be read stops before anything is written
    found = assessment(paths, Path(args.file), args.source)
    breach = record_breach(paths.breaches, found, discovered=discovered, now=now,
                           description=args.description)
    paths.audit().append("breach_recorded", now=now, breach_id=breach.id, file=Path(found.file).name,
                         subjects=found.subjects, records=found.records, plain_personal_columns=len(found.plain))
    drafts = write_notification(paths.breach_drafts, breach, found, policy, str(paths.key_dir))
    hours = (breach.notify_by - now).total_seconds() / 3600
    print(f"Breach {breach.id} recorded in {paths.breaches} (Art. 33(5)).")
    print(f"Notify {policy.supervisory_authority.split(',')[0]} by {local(breach.notify_by)} "
          + (f"({hours:.0f} hours from now; Art. 33(1))." if hours > 0 else
             "(the 72 hours have passed: give the reasons for the delay, Art. 33(1))."))
    print("Draft notification, to complete and check before you submit it:\n"
          + "\n".join(f"  {path}" for path in drafts.values()))
    print(f"Verdict: {verdict(found, str(paths.key_dir))[0]}\n`klantkluis breach assess {args.file}` shows it per "
          "table and column.")
    return 0


def add_breach_commands(sub) -> None:
    breach = sub.add_parser("breach", help="a personal data breach: what a file that leaked exposes, and the breach "
                                           "recorded with a draft notification (Art. 33, 34)")
    steps = breach.add_subparsers(dest="breach_command", required=True)
    assess = steps.add_parser("assess", help="what a file holds: per table rows, subjects and each column's "
                                             "protection, and whether plain personal data was exposed (read only)")
    record = steps.add_parser("record", help="record a breach in the register (Art. 33(5)) with its 72-hour "
                                             "deadline and write a draft notification in English and Dutch")
    for step in (assess, record):
        step.add_argument("--source", choices=sorted(LANDING_SOURCES),
                          help="the source of a landing file outside its source's folder")
    assess.add_argument("file", help="a DuckDB file made by klantkluis (warehouse, backup, published marts) or a "
                                     "landing file")
    assess.set_defaults(func=_assess)
    record.add_argument("--file", required=True, help="the file that leaked, as for `breach assess`")
    record.add_argument("--discovered", required=True, type=moment,
                        help="when you became aware of the breach (ISO 8601; without a zone: UTC)")
    record.add_argument("--description", help="what happened, in a few words (kept in the register and the draft; "
                                              "no personal data)")
    record.set_defaults(func=_record)
