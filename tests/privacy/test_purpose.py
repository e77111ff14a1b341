"""Purpose limitation: a mart that selects a column not allowed for its purpose fails the gate."""

import copy
import json

import pytest

from orchestration.project import dbt_project
from privacy.policy import load_policy
from privacy.purpose import purpose_violations


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(dbt_project.manifest_path.read_text())


def _node(manifest: dict, name: str) -> dict:
    return next(n for n in manifest["nodes"].values() if n["name"] == name)


def test_the_project_keeps_every_mart_to_its_purpose(manifest):
    assert purpose_violations(manifest, load_policy()) == []


def test_selecting_a_column_not_allowed_for_the_purpose_is_a_violation(manifest):
    broken = copy.deepcopy(manifest)
    audience = _node(broken, "marketing_audience")
    # Revenue is classified for analytics only; a direct-marketing mart may not take it.
    audience["columns"]["revenue"] = {"name": "revenue", "meta": {"privacy": {"purposes": ["direct_marketing"]}}}
    found = purpose_violations(broken, load_policy())
    assert [(f.table, f.column) for f in found] == [("marketing_audience", "revenue")]
    assert "customer_pyramid.revenue" in found[0].problem


def test_a_consent_based_mart_must_filter_on_consent(manifest):
    broken = copy.deepcopy(manifest)
    audience = _node(broken, "marketing_audience")
    audience["depends_on"]["nodes"] = [n for n in audience["depends_on"]["nodes"] if "int_consents_resolved" not in n]
    assert any("needs consent" in f.problem for f in purpose_violations(broken, load_policy()))


def test_a_mart_without_a_declared_purpose_is_a_violation(manifest):
    broken = copy.deepcopy(manifest)
    _node(broken, "customer_rfm")["meta"].pop("purpose")
    assert any(f.table == "customer_rfm" and "declares no purpose" in f.problem
               for f in purpose_violations(broken, load_policy()))
