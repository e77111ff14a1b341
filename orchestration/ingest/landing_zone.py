"""What the landing zone holds that no run reads, that a run reads otherwise than meant, or that
the raw layer holds without its file (GDPR Art. 5(1)(d), accuracy): a file in the wrong folder
loses its rows in silence, a file renamed or placed by mistake after its load keeps its rows in the
raw layer, where the latest file name wins, a misnamed day or a second download is loaded
beside the files meant, and a column renamed or dropped in an export loads as null. Notes name
folders, files and columns only, never their content.
"""

import contextlib
import difflib
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from expectations.suites import SOURCES as LANDING_SOURCES
from orchestration.ingest.reader import LandingFileError
from orchestration.ingest.schema import LATEST_BATCHES
from orchestration.ingest.sources import (absent, landing_day, landing_day_name, name_problem, source_files,
                                          source_location)
from orchestration.settings import Paths
from privacy.rights.requests import LOCAL_TIME, is_request_batch
from privacy.rights.warehouse import column_types

SHOWN = 3  # file names shown per note; the rest are counted
WARNING = "Warning: "  # opens a landing note that is a warning (`klantkluis run --strict` counts them)


def _names(files: list[str]) -> str:
    shown = ", ".join(sorted(files)[:SHOWN])
    return shown + (f" and {len(files) - SHOWN} more" if len(files) > SHOWN else "")


def _why_unread(paths: Paths, path: Path) -> tuple[str, bool]:
    """Why a file under the landing folder is read by no source, and what to do; and whether that is
    a warning: a file that looks meant for a source (directly in the landing folder, in a folder
    named like a source's, beside a source's `files` glob), whose rows a run does not load."""
    parts = path.relative_to(paths.landing).parts
    folder = parts[0] if len(parts) > 1 else None
    if folder is None:
        return "directly in the landing folder: move them into landing/<source>/", True
    if folder in LANDING_SOURCES:
        if absent(paths, folder):
            return f"{folder} is marked `absent: true` in {paths.mapping.name}: remove that line to read them", False
        if source_location(paths, folder) != paths.landing / folder / "*":
            return f"{paths.mapping.name} reads {folder} through its `files` glob, which these do not match", True
        return (f"in a subfolder: only files directly in landing/{folder}/ are read (and removed after their retention "
                "period); move them up, or out of the landing zone"), False
    near = ([s for s in LANDING_SOURCES if s.lower() == folder.lower()]
            or difflib.get_close_matches(folder, LANDING_SOURCES, n=1, cutoff=0.5)
            or [s for s in LANDING_SOURCES if s.startswith(folder.lower()) or folder.lower() in s])
    # a warning where the folder's name is likely a source's misspelt (a typo, another case, a part of
    # it: nps/); a folder of its own (processed/, errors/) resembles one by chance at difflib's 0.5
    meant = bool(near) and (difflib.SequenceMatcher(None, folder.lower(), near[0]).ratio() >= 0.7
                            or len(folder) >= 3 and folder.lower() in near[0])
    if near and (glob := source_location(paths, near[0])) != paths.landing / near[0] / "*":
        return (f"landing/{folder}/ is not a source's folder: did you mean {near[0]}? {paths.mapping.name} reads "
                f"{near[0]} through its `files` glob ({glob}): put them where it matches"), meant
    hint = (f"did you mean landing/{near[0]}/?" if near else
            f"the folders read are {', '.join(sorted(LANDING_SOURCES))}; a new source is read once it is declared "
            "(README: Add a source)")
    return f"landing/{folder}/ is not a source's folder: {hint}", meant


def unread(paths: Paths) -> list[str]:
    """One note per reason for the files under the landing folder that no source reads (a warning
    where they look meant for a source: ``_why_unread``)."""
    if not paths.landing.is_dir():
        return []
    read = {p.resolve() for s in LANDING_SOURCES for p in source_files(paths, s)}
    found: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for path in sorted(paths.landing.rglob("*")):
        inside = path.relative_to(paths.landing).parts
        if any(part.startswith(".") for part in inside) or not path.is_file() or path.resolve() in read:
            continue
        found[_why_unread(paths, path)].append(str(Path(*inside)))
    return [f"{WARNING if warn else ''}{len(files)} file(s) not read ({_names(files)}): {why}"
            for (why, warn), files in found.items()]


def vanished(paths: Paths, con) -> list[str]:
    """One note per source whose raw layer holds rows of files loaded earlier that are gone from
    where it reads them, removed by hand rather than by their retention rule. The consent events
    of data subject requests (req-*.csv) are loaded from elsewhere and never counted."""
    if not column_types(con, "raw", "_batches"):
        return []
    rows = con.execute(f"""
        select source, file, loaded from {LATEST_BATCHES} l
        where loaded > 0
          and not exists (select 1 from raw._landing_removed r where r.source = l.source and r.file = l.file
                          and r.removed_at >= l.loaded_at)
        order by source, file""").fetchall()
    gone: dict[str, list[tuple[str, int]]] = defaultdict(list)
    unmatched: dict[str, list[str]] = defaultdict(list)  # still in the glob's folder: the glob changed
    present = {}
    for source, file, loaded in rows:
        if source not in present:
            present[source] = {p.name for p in source_files(paths, source)}
        if (source in LANDING_SOURCES and not absent(paths, source) and file not in present[source]
                and not is_request_batch(file)):
            if (source_location(paths, source).parent / file).is_file():
                unmatched[source].append(file)
            else:
                gone[source].append((file, loaded))
    return [f"{source}: {len(files)} file(s) loaded earlier are gone from {source_location(paths, source).parent} "
            f"({_names([f for f, _ in files])}), not by their retention rule; their {sum(n for _, n in files):,} rows "
            f"stay in raw.{source} (as meant, if you removed the files). If one was renamed or loaded by mistake: "
            f"`klantkluis unload {source} FILE`"
            for source, files in gone.items()] + [
            f"{source}: {len(files)} file(s) loaded earlier ({_names(files)}) are still in "
            f"{source_location(paths, source).parent}, but the `files` glob of {source} in {paths.mapping.name} no "
            f"longer matches them; their rows stay in raw.{source}. Correct the glob if that was not meant"
            for source, files in unmatched.items()]


def future_days(paths: Paths, today: date) -> list[str]:
    """Notes on date-named files whose day is after `today`: most often a typo in the name, and
    since the latest file name wins, their rows would overrule every later export."""
    later = [f"{s}/{p.name}" for s in LANDING_SOURCES for p in source_files(paths, s)
             if (day := landing_day(p)) and day > today.isoformat()]
    return [f"{len(later)} file(s) named after a day after today ({_names(later)}): a typo in the name? Rename "
            "them to their export day"] if later else []


def unloadable_names(paths: Paths) -> list[str]:
    """A warning per landing file whose name no run can load (``name_problem``): its source's step
    fails on it every run until it is renamed."""
    return [f"{WARNING}{source}: {problem}" for source in LANDING_SOURCES for p in source_files(paths, source)
            if (problem := name_problem(p))]


def misnamed_days(paths: Paths) -> list[str]:
    """A note on files named after a day with the year last (07-12-2026.csv): they have no landing
    day, so every run takes them, and they sort out of export order."""
    renames = [f"{s}/{p.name} to {name}" for s in LANDING_SOURCES for p in source_files(paths, s)
               if (name := landing_day_name(p))]
    return [f"{len(renames)} file(s) named after a day with the year last: they have no landing day (every run takes "
            "them) and sort out of export order, so where files hold the same record an older one's row can win; "
            f"rename {_names(renames)} (read day first where either order is a date); one a run loaded already: "
            "move it out, `klantkluis unload SOURCE FILE`, then put it back under its new name"] if renames else []


def _same_bytes(group: list[Path], prefix: int = 1 << 16) -> list[list[Path]]:
    """The files of `group` (one size) that hold the same bytes, in groups of two or more: a first
    block is compared before whole files are read. A file gone since it was listed is left out."""
    found: list[list[Path]] = [group]
    for limit in (prefix, None):
        split: list[list[Path]] = []
        for files in found:
            by: dict[bytes, list[Path]] = defaultdict(list)
            for path in files:
                with contextlib.suppress(OSError), path.open("rb") as f:
                    by[hashlib.sha256(f.read(limit)).digest() if limit else
                       hashlib.file_digest(f, "sha256").digest()].append(path)
            split += [same for same in by.values() if len(same) > 1]
        found = split
    return found


def copies(paths: Paths) -> list[str]:
    """One note per file without a landing day that holds the same bytes as another file of its source
    (a second download, `2026-12-06 (1).csv` beside `2026-12-06.csv`): it is loaded beside that one.
    Only files of a size another file of the source has are read, a first block before the whole."""
    notes = []
    for source in LANDING_SOURCES:
        sizes: dict[int, list[Path]] = defaultdict(list)
        for path in source_files(paths, source):
            with contextlib.suppress(OSError):  # removed since it was listed: no copy
                sizes[path.stat().st_size].append(path)
        for size in sizes.values():
            if len(size) < 2 or all(landing_day(p) for p in size):
                continue
            for group in _same_bytes(size):
                kept = min(group, key=lambda p: (landing_day(p) is None, len(p.name), p.name))
                notes += [f"{source}: {path.name} holds the same bytes as {kept.name}: if it is a second download, "
                          "its rows are loaded twice and count twice in the in and loaded counts; move it out of the "
                          f"landing zone, then `klantkluis unload {source} {path.name}`"
                          for path in group if path != kept and landing_day(path) is None]
    return notes


@dataclass(frozen=True)
class FileColumns:
    """A landing file's header as its latest load recorded it in the load ledger, names only: the
    header's names that are none of ours (never loaded), the optional columns of ours it lacks
    (loaded as null), the columns of ours it has (None: a load made before they were recorded), and
    of the ones it lacks those the source's file loaded before it had: a column the export renamed
    or dropped, whose values became null unseen (Art. 5(1)(d)). A column declared after that file
    was loaded (an upgrade) is not among the ones it had, so never lost."""

    source: str
    file: str
    not_read: tuple[str, ...]
    missing: tuple[str, ...]
    read: tuple[str, ...] | None = None
    lost: tuple[str, ...] = ()
    before: str | None = None  # the file loaded before it that had the lost columns


def file_columns(con, source: str | None = None, files: list[str] | None = None) -> list[FileColumns]:
    """The recorded headers of the files of `source` (default: every source), of `files` only if
    given, in load order. A file's "before" is the one whose latest load came last before its own;
    loads made before headers were recorded, unloaded files and the consent events of requests
    (never landing files) are left out. A column is lost only where the file before recorded that it
    had it: one loaded before the columns each file has were recorded is not compared."""
    held = column_types(con, "raw", "_batches") if con is not None else {}
    if "columns_missing" not in held:
        return []
    had_read = "columns_read" if "columns_read" in held else "null"  # not migrated yet: a read-only `status`
    rows = con.execute(f"select source, file, columns_not_read, columns_missing, {had_read} from {LATEST_BATCHES} "
                       "where columns_missing is not null" + (" and source = ?" if source else "")
                       + " order by source, loaded_at, batch_id", [source] if source else []).fetchall()
    found, before = [], {}
    for source_, file, not_read, missing, read in rows:
        if is_request_batch(file):
            continue
        had = before.get(source_)
        lost = tuple(c for c in missing if had is not None and had.read is not None and c in had.read)
        before[source_] = FileColumns(source_, file, tuple(not_read), tuple(missing),
                                      None if read is None else tuple(read), lost, had.file if lost else None)
        found.append(before[source_])
    return [f for f in found if files is None or f.file in files]


def column_notes(found: list[FileColumns], mapping: str) -> tuple[list[str], list[str]]:
    """(warnings, notes) on the headers `found`, each naming its fix: a warning per file that lacks
    a column the file before it had (its values are null now), then per source the files with the
    same columns not read, and those lacking the same optional columns. ``mapping``: the name of
    the sources file where columns are mapped."""
    fix = f"map it under the source's `columns` in {mapping} (README, 'Point it at your own files')"
    warnings = [f"{f.source}/{f.file} lacks {', '.join(f.lost)}, which {f.before} had: the rows it loaded "
                f"hold no {', '.join(f.lost)} (null), nor do the marts built from them. A renamed column: {fix}"
                + (f"; this file has {', '.join(f.not_read)} not read" if f.not_read else "")
                + ". A dropped one: correct the export. Either way the next run loads the file again"
                for f in found if f.lost]
    not_read, missing = defaultdict(list), defaultdict(list)
    for f in found:
        if f.not_read:
            not_read[f.source, f.not_read].append(f.file)
        if rest := tuple(c for c in f.missing if c not in f.lost):
            missing[f.source, rest].append(f.file)
    notes = [f"{source}: {len(files)} file(s) ({_names(files)}) have column(s) not read: {', '.join(columns)}; none "
             f"of ours when loaded, so never loaded. One that holds a column of ours under another name: {fix}; one "
             "declared since (an upgrade): `klantkluis run --reload`; else leave it, or drop it from the export"
             for (source, columns), files in not_read.items()]
    notes += [f"{source}: {len(files)} file(s) ({_names(files)}) lack the optional column(s) {', '.join(columns)}: "
              f"their rows hold none (null). One the export has under another name: {fix}; else add it to the export "
              "if you have it" for (source, columns), files in missing.items()]
    return warnings, notes


def header_notes(paths: Paths, con) -> list[str]:
    """The warnings (first, so marked) and notes on the columns of the landing files still where their
    source reads them."""
    current = {s: {p.name for p in source_files(paths, s)} for s in LANDING_SOURCES}
    warnings, notes = column_notes([f for f in file_columns(con) if f.file in current.get(f.source, ())],
                                   paths.mapping.name)
    return [*(f"{WARNING}{w}" for w in warnings), *notes]


def business_day(at: datetime | None = None) -> date:
    """The date on the business's calendar at `at` (default now): landing files are named after it."""
    return (at or datetime.now(timezone.utc)).astimezone(LOCAL_TIME).date()


def landing_notes(paths: Paths, con, today: date) -> list[str]:
    """Every note on the landing zone, for the run summary and `klantkluis status`; a sources.yml
    that cannot be read is the one note (the rest of the status still shows)."""
    try:
        return [*unloadable_names(paths), *header_notes(paths, con), *unread(paths), *vanished(paths, con),
                *future_days(paths, today), *misnamed_days(paths), *copies(paths)]
    except LandingFileError as exc:
        return [str(exc)]
