"""A mistake in privacy/policy.yml stops with one message naming the place, before anything acts on it."""

import pytest

from orchestration.settings import DBT_PROJECT_DIR
from privacy.exceptions import PolicyError
from privacy.policy import DEFAULT_POLICY, load_policy

TEXT = DEFAULT_POLICY.read_text(encoding="utf-8")
INTERACTIONS = "    duration_days: 365\n    anchor: occurred_at\n"  # the interactions rule's


def test_the_shipped_policy_loads():
    policy = load_policy()
    assert policy.retention["interactions"].duration_days == 365 and policy.retention["orders"].action == "anonymise"


@pytest.mark.parametrize("edit, said", [
    # a misspelt key read as 0 days deleted every call note (review of 2026-12-07)
    ((INTERACTIONS, INTERACTIONS.replace("duration_days", "duration")),
     "retention 'interactions': unknown key 'duration' (expected one of action, anchor, applies_to,"),
    # an unknown action kept leads past their rule, and the sweep's check passed
    ((INTERACTIONS + "    action: delete\n", INTERACTIONS + "    action: delte\n"),
     "retention rule 'interactions': action must be one of delete, anonymise, compact, rebuild"),
    ((INTERACTIONS, INTERACTIONS.replace("365", '"two years"')),
     "retention rule 'interactions': duration_days must be a whole number of days, 0 or more"),
    ((INTERACTIONS, INTERACTIONS.replace("365", "-1")), "duration_days must be a whole number of days"),
    ((INTERACTIONS, INTERACTIONS.replace("occurred_at", '""')), "anchor must say from when the duration counts"),
    (("retention:\n", "retentoin:\n"), "top level: unknown key 'retentoin'"),
    # a record outside the warehouse about a category the register does not know
    (("    subjects: [customer, lead, employee]\n", "    subjects: [customer, lead, staff]\n", 1),
     "retention rule 'request_records': subjects names 'staff', which is not among the policy's subject_categories"),
    (("    subjects: [customer, lead, employee]\n", "    subjects: employee\n", 1),
     "retention rule 'request_records': subjects must be a list, such as [customer]"),
    (("    legal_basis:", "    legal_bassis:", 1), "purposes 'contract': unknown key 'legal_bassis'"),
    ((INTERACTIONS, "   duration_days: 365\n    anchor: occurred_at\n"), "is not valid YAML at line "),
])
def test_a_mistake_in_the_policy_is_one_message_naming_its_place(tmp_path, edit, said):
    old, new, *count = edit
    assert old in TEXT
    text = TEXT.replace(old, new, *count)
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert said in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_an_anchor_that_is_no_column_of_the_table_its_rule_governs_is_found_before_a_run(tmp_path):
    """Diff review: `anchor: ocurred_at` passed the file's check and failed every ingest step after its load."""
    from privacy.classification import load_classification
    from privacy.retention import check_anchors

    classification = load_classification(DBT_PROJECT_DIR)
    check_anchors(classification, load_policy())  # the shipped policy and classification agree
    path = tmp_path / "policy.yml"
    path.write_text(TEXT.replace(INTERACTIONS, INTERACTIONS.replace("occurred_at", "ocurred_at")), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"retention rule 'interactions': anchor 'ocurred_at' is not a column of "
                                          r"raw.interactions, which the rule governs"):
        check_anchors(classification, load_policy(path))


def test_the_sample_controller_is_named_until_the_policy_is_made_ones_own(tmp_path):
    """DPO review: the shipped policy's sample controller would be named in every letter to a data subject."""
    assert load_policy().sample_details() == ["controller.name", "controller.address", "controller.contact",
                                              "dpo.contact"]
    path = tmp_path / "policy.yml"
    path.write_text(DEFAULT_POLICY.read_text(encoding="utf-8")
                    .replace("Voorbeeld Verkoop B.V.", "Bakkerij Jansen B.V.")
                    .replace("Voorbeeldstraat 1", "Dorpsstraat 3")
                    .replace("example.nl", "bakkerijjansen.nl"), encoding="utf-8")
    assert load_policy(path).sample_details() == []


def test_a_raw_table_whose_retention_rule_the_policy_lacks_is_found_before_a_run(tmp_path):
    """New-source walkthrough: a declared source whose rule was not yet in the policy loaded its
    personal data into raw, with no rule the sweep could apply, and only the classification check
    after the dbt build named the missing rule."""
    from privacy.classification import load_classification
    from privacy.retention import check_anchors

    path = tmp_path / "policy.yml"
    old = '  nps_responses:\n    description:\n      en: "Survey'
    assert old in TEXT
    path.write_text(TEXT.replace(old, old.replace("nps_responses", "survey_answers")), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        check_anchors(load_classification(DBT_PROJECT_DIR), load_policy(path))
    said = str(err.value)
    assert "raw.nps_responses" in said and "retention rule 'nps_responses'" in said and str(path) in said
    assert "duration_days, anchor and action" in said and "\n" not in said


def test_a_rules_cutoff_is_in_whole_utc_days_and_never_after_now():
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    rule = load_policy().retention["quarantine"]
    now = datetime(2030, 5, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # 2030-05-01 23:30 UTC
    assert rule.cutoff(now) == datetime(2030, 4, 2, tzinfo=timezone.utc)  # day 2030-04-01 + 30 is today: gone
    assert replace(rule, duration_days=0).cutoff(now) == now  # not what is dated later today (the review)
    with pytest.raises(ValueError, match="timezone-aware"):
        rule.cutoff(now.replace(tzinfo=None))
