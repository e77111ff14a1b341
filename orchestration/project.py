"""The dbt project as Dagster sees it (kept alone so `dagster-dbt project prepare-and-package` can load it)."""

import functools
import json
import subprocess

from dagster_dbt import DbtProject

from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


@functools.cache
def manifest_nodes() -> dict[str, dict]:
    """The dbt manifest's nodes (models, snapshots, seeds, tests), by unique id."""
    return json.loads(dbt_project.manifest_path.read_text())["nodes"]


def _manifest_current() -> bool:
    """The manifest exists and no file of the dbt project changed after it was written (as the
    Makefile's rule for it: a model added or edited, a pull); dbt's own output folders aside."""
    manifest = dbt_project.manifest_path
    if not manifest.is_file():
        return False
    written = manifest.stat().st_mtime
    folder = dbt_project.project_dir
    return not any(path.stat().st_mtime > written for path in folder.rglob("*")
                   if path.suffix in (".sql", ".py", ".yml", ".yaml", ".csv") and path.is_file()
                   and not any(part in ("target", "logs", "dbt_packages") or part.startswith(".")
                               for part in path.relative_to(folder).parts))


def manifest_problem() -> str | None:
    """Parse the dbt project when its manifest is missing (a checkout run without `make`, or after
    `make clean`) or older than a file of the project (a model added or changed since): Dagster
    defines the dbt assets from it, and a model it does not know stops the build with a KeyError.
    What is wrong, with the fix; None if the manifest is current."""
    if _manifest_current():
        return None
    print("Preparing the dbt manifest (dbt parse) ...", flush=True)
    folder = dbt_project.project_dir
    parsed = subprocess.run([DBT_EXECUTABLE, "parse", "--profiles-dir", ".", "--quiet"], cwd=folder,
                            capture_output=True, text=True)
    if parsed.returncode or not dbt_project.manifest_path.is_file():
        return (f"the dbt project in {folder} does not parse, so no run can start: "
                f"`cd {folder} && dbt parse --profiles-dir .` shows why")
    return None
