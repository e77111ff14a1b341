"""privacy/ is a plain library: the orchestration wraps it, never the other way round."""

import ast
from pathlib import Path

PRIVACY = Path(__file__).resolve().parents[2] / "privacy"
FORBIDDEN = ("dagster", "dagster_dbt", "dbt", "orchestration")


def test_privacy_never_imports_dagster_or_dbt():
    offenders = []
    for path in sorted(PRIVACY.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
