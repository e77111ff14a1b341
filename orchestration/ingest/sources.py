"""Where each source's files are, and how the user's column names map to ours ("bring your own data").

`<KLANTKLUIS_HOME>/sources.yml` (optional) overrides the demo landing folder per source:

    orders:
      files: /exports/shop/orders_*.parquet   # a glob; relative paths are relative to the home folder
      columns:                                # our column: your column
        customer_id: CustomerNo
        order_date: Date
"""

from pathlib import Path

import duckdb
import yaml

from orchestration.ingest.reader import READERS, LandingFileError
from orchestration.settings import Paths


def _config(paths: Paths) -> dict:
    if not paths.mapping.is_file():
        return {}
    try:
        config = yaml.safe_load(paths.mapping.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LandingFileError(f"{paths.mapping}: not valid YAML ({exc.__class__.__name__}); fix the file.") from None
    shape = "`<source>: {files: <glob>, columns: {<our column>: <your column>}}` per source"
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise LandingFileError(f"{paths.mapping}: expected {shape}.")
    for source, entry in config.items():
        wrong = sorted(set(entry) - {"files", "columns"})
        files, columns = entry.get("files"), entry.get("columns")
        if wrong or not isinstance(files, (str, type(None))) or not isinstance(columns, (dict, type(None))):
            what = f"unknown key(s) {', '.join(map(str, wrong))}" if wrong else "files must be one glob, columns a mapping"
            raise LandingFileError(f"{paths.mapping}, source {source}: {what}; expected {shape}.")
    return config


def source_files(paths: Paths, source: str) -> list[Path]:
    pattern = _config(paths).get(source, {}).get("files")
    if pattern is None:
        folder = paths.landing / source
        return sorted(p for p in folder.glob("*") if p.suffix in READERS) if folder.is_dir() else []
    pattern_path = Path(pattern) if Path(pattern).is_absolute() else paths.home / pattern
    return sorted(p for p in pattern_path.parent.glob(pattern_path.name) if p.suffix.lower() in READERS)


def column_mapping(paths: Paths, source: str) -> dict[str, str]:
    columns = _config(paths).get(source, {}).get("columns") or {}
    return {str(theirs): str(ours) for ours, theirs in columns.items()}


def pending_days(paths: Paths) -> list[str]:
    """Landing days (file stems) with a file that has never been loaded, in order."""
    stems = {(source.name, p.stem, p.name) for source in paths.landing.iterdir() if source.is_dir()
             for p in source_files(paths, source.name)} if paths.landing.is_dir() else set()
    loaded: set[tuple[str, str]] = set()
    if paths.warehouse.exists():
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            if con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                           "and table_name = '_batches'").fetchone()[0]:
                loaded = set(con.execute("select source, file from raw._batches").fetchall())
    return sorted({stem for source, stem, name in stems if (source, name) not in loaded})
