"""The dbt project as Dagster sees it (kept alone so `dagster-dbt project prepare-and-package` can load it)."""

import functools
import json

from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


@functools.cache
def manifest_nodes() -> dict[str, dict]:
    """The dbt manifest's nodes (models, snapshots, seeds, tests), by unique id."""
    return json.loads(dbt_project.manifest_path.read_text())["nodes"]
