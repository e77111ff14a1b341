"""`klantkluis breach`: what a file that leaked exposes (GDPR Art. 33, 34). The logic is in ``privacy.breach``."""

from pathlib import Path

from expectations.suites import SOURCES as LANDING_SOURCES
from orchestration.ingest.reader import LandingFileError
from orchestration.settings import DBT_PROJECT_DIR, Paths


def assessment(paths: Paths, file: Path, source: str | None = None):
    """The assessment of ``file``: a DuckDB file this product made (the warehouse, a backup, the
    published marts) or a landing file of ``source`` (default: the source whose folder holds it)."""
    from orchestration.ingest.reader import read_landing_table
    from orchestration.ingest.schema import landing_columns, optional_columns
    from orchestration.ingest.sources import read_as
    from orchestration.publish import DICTIONARY
    from orchestration.settings import connect_duckdb
    from privacy.breach import assess_duckdb, assess_landing, is_duckdb
    from privacy.classification import load_classification, load_seeds

    if not file.is_file():
        raise LandingFileError(f"{file}: no such file; give the file that leaked, or the file it is a copy of")
    classification = load_classification(DBT_PROJECT_DIR)
    if is_duckdb(file):
        with connect_duckdb(file, read_only=True) as con:
            return assess_duckdb(con, str(file), classification, seeds=load_seeds(DBT_PROJECT_DIR),
                                 non_personal=[DICTIONARY])
    source = source or _source_of(paths, file)
    table = classification.table(source, "source")
    read = read_landing_table(file, landing_columns(table), read_as(paths, source, typed=False),
                              frozenset(optional_columns(table)))
    return assess_landing(str(file), table, read.rows, read.input_rows)


def _source_of(paths: Paths, file: Path) -> str:
    from orchestration.ingest.sources import source_location

    folder = file.resolve().parent
    for source in LANDING_SOURCES:
        if folder.name == source or folder == source_location(paths, source).resolve():
            return source
    raise LandingFileError(f"{file} is neither a DuckDB file nor in the folder of a source: name its source with "
                           f"--source ({', '.join(sorted(LANDING_SOURCES))})")


def _assess(args, paths: Paths) -> int:
    from privacy.breach import render

    print(render(assessment(paths, Path(args.file), args.source), str(paths.key_dir)))
    return 0


def add_breach_commands(sub) -> None:
    breach = sub.add_parser("breach", help="a personal data breach: what a file that leaked exposes (Art. 33, 34)")
    steps = breach.add_subparsers(dest="breach_command", required=True)
    assess = steps.add_parser("assess", help="what a file holds: per table rows, subjects and each column's "
                                             "protection, and whether plain personal data was exposed (read only)")
    assess.add_argument("--source", choices=sorted(LANDING_SOURCES),
                        help="the source of a landing file outside its source's folder")
    assess.add_argument("file", help="a DuckDB file made by klantkluis (warehouse, backup, published marts) or a "
                                     "landing file")
    assess.set_defaults(func=_assess)
