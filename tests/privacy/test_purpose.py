"""Purpose limitation: a mart that selects a column not allowed for its purpose fails the gate."""

import copy
import json

import pytest

from orchestration.project import dbt_project
from orchestration.settings import DBT_PROJECT_DIR
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


def test_reading_a_column_not_allowed_for_the_purpose_is_a_violation_even_when_not_selected(manifest):
    """Review (BI): key_accounts (account management) computed its trend from first_order_date, a column
    classified for analytics only, and the check saw only the columns a mart outputs. A column read in
    a calculation, a filter or an ordering counts; a comment or a CTE of the same name does not."""
    broken = copy.deepcopy(manifest)
    accounts = _node(broken, "key_accounts")
    sql = accounts["raw_code"]
    accounts["raw_code"] = sql.replace("order by coalesce(clv.predicted_revenue, 0) desc,",
                                       "order by orders.revenue desc, coalesce(clv.predicted_revenue, 0) desc,")
    assert accounts["raw_code"] != sql
    found = purpose_violations(broken, load_policy())
    assert [(f.table, f.column, f.problem) for f in found] == [
        ("key_accounts", "revenue", "reads revenue (of customer_pyramid, int_orders_aggregated_to_subjects), "
                                    "which is not allowed for account_management")]
    accounts["raw_code"] = "-- ranked by revenue to date\nwith revenue as (select 1)\n" + sql
    assert purpose_violations(broken, load_policy()) == []


def test_a_column_named_like_one_of_the_marts_ctes_is_still_checked(manifest):
    """Review: the marts name their CTE over int_orders_aggregated_to_subjects `orders`, and that model
    has a column orders (analytics only): key_accounts (account management) ordering by orders.orders
    passed, since a CTE's name was left out wherever it occurred. It is left out where it names the
    CTE only: its definition, after from or join, and before a column (orders.revenue)."""
    broken = copy.deepcopy(manifest)
    accounts = _node(broken, "key_accounts")
    sql = accounts["raw_code"]
    assert "orders as (" in sql and "from orders" in sql
    accounts["raw_code"] = sql.replace("order by coalesce(clv.predicted_revenue, 0) desc,",
                                       "order by orders.orders desc, coalesce(clv.predicted_revenue, 0) desc,")
    assert accounts["raw_code"] != sql
    found = purpose_violations(broken, load_policy())
    assert [(f.table, f.column) for f in found] == [("key_accounts", "orders")], found


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


# Art. 6(1)(f) and 6(4): the policy carries the assessments its purposes need.

def _policy_with(tmp_path, edit):
    import yaml

    from privacy.policy import DEFAULT_POLICY

    raw = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    edit(raw["purposes"])
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_policy(path)


def test_the_policy_assesses_every_legitimate_interest_and_further_processing(manifest):
    from privacy.classification import load_classification
    from privacy.purpose import assessment_gaps, further_processing

    classification, policy = load_classification(DBT_PROJECT_DIR), load_policy()
    assert assessment_gaps(classification, policy, manifest) == []
    further = further_processing(classification, policy, manifest)
    # Orders collected for the contract feed the segmentation and the key accounts, and (review) the
    # satisfaction per segment, which the classification of its own columns alone does not show.
    assert further["analytics"] == further["account_management"] == further["service_quality"] == ["6(1)(b)"]
    assert "service_quality" not in further_processing(classification, policy)
    assert "contract" not in further and "lead_generation" not in further


def test_a_missing_balancing_or_compatibility_factor_fails_the_check(tmp_path, manifest):
    from privacy.classification import load_classification
    from privacy.purpose import assessment_gaps

    def edit(purposes):
        del purposes["analytics"]["legitimate_interest"]["balancing"]
        purposes["analytics"]["legitimate_interest"]["plain"].pop("nl")
        purposes["account_management"]["compatibility"]["safeguards"] = "  "
        del purposes["lead_generation"]["legitimate_interest"]
        del purposes["service_quality"]["compatibility"]
        del purposes["fiscal"]["compatibility"]  # a legal obligation naming no objective of Art. 23(1)

    found = {f.column: f.problem for f in assessment_gaps(load_classification(DBT_PROJECT_DIR),
                                                          _policy_with(tmp_path, edit), manifest)}
    assert set(found) == {"purposes.analytics.legitimate_interest", "purposes.account_management.compatibility",
                          "purposes.lead_generation.legitimate_interest", "purposes.service_quality.compatibility",
                          "purposes.fiscal.compatibility"}
    assert "balance" in found["purposes.analytics.legitimate_interest"]
    assert "plain words" in found["purposes.analytics.legitimate_interest"]
    assert "(e) the safeguards" in found["purposes.account_management.compatibility"]
    assert "6(1)(b)" in found["purposes.account_management.compatibility"]
    assert "necessary" in found["purposes.lead_generation.legitimate_interest"]
    assert "objective of Art. 23(1)" in found["purposes.fiscal.compatibility"]


def test_consent_and_a_law_safeguarding_an_objective_of_art_23_need_no_compatibility_assessment(tmp_path, manifest):
    from privacy.classification import load_classification
    from privacy.purpose import assessment_gaps, compatibility_exemption

    def edit(purposes):
        purposes["account_management"].pop("compatibility")
        purposes["account_management"]["legal_basis"] = "6(1)(a)"

    policy = _policy_with(tmp_path, edit)
    # direct_marketing (consent) and fiscal (tax law, Art. 23(1)(e)) use data collected under other bases too.
    assert compatibility_exemption(policy.purposes["direct_marketing"]) == "consent"
    assert compatibility_exemption(policy.purposes["fiscal"]) == "law"
    assert compatibility_exemption(policy.purposes["privacy_compliance"]) is None  # 6(1)(c), no objective named
    assert compatibility_exemption(policy.purposes["analytics"]) is None
    assert assessment_gaps(load_classification(DBT_PROJECT_DIR), policy, manifest) == []
