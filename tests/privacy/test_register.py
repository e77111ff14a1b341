"""The generated register of processing activities covers everything the classification uses."""

import html
import json
from pathlib import Path

import pytest

from privacy.classification import load_classification, load_policy
from privacy.register import write_register

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    classification, policy = load_classification(DBT_PROJECT), load_policy()
    from datetime import datetime, timezone

    manifest = json.loads((DBT_PROJECT / "target" / "manifest.json").read_text())  # as the register asset passes it
    written = write_register(tmp_path_factory.mktemp("register"), classification, policy,
                             now=datetime(2025, 6, 30, tzinfo=timezone.utc), manifest=manifest)
    return classification, policy, *_texts(written["en"]), *_texts(written["nl"])


def _texts(paths) -> tuple[str, str]:
    md, page = paths
    return md.read_text(), html.unescape(page.read_text())


def test_lists_every_purpose_legal_basis_and_retention_rule(written):
    classification, policy, md, page, *_ = written
    columns = [c for t in classification for c in t.columns]
    purposes = {p for c in columns for p in c.purposes} | set(policy.purposes)
    bases = {c.legal_basis for c in columns} | {p.legal_basis for p in policy.purposes.values()}
    rules = {c.retention for c in columns} | set(policy.retention)
    for text in (md, page):
        for term in purposes | bases | rules:
            assert f"{term}" in text, term


def test_legal_bases_in_use_puts_each_purpose_under_the_basis_the_policy_gives_it():
    from privacy.register import register_sections

    classification, policy = load_classification(DBT_PROJECT), load_policy()
    [rows] = [rows for title, _, rows in register_sections(classification, policy) if title.startswith("Legal bases")]
    listed = {purpose: basis for basis, _, purposes in rows for purpose in purposes.split(", ")}
    assert dict((b, m) for b, m, _ in rows)["6(1)(c)"] == "necessary for compliance with a legal obligation"
    assert listed == {name: purpose.legal_basis for name, purpose in policy.purposes.items()}
    assert listed["direct_marketing"] == "6(1)(a)" and listed["fiscal"] == "6(1)(c)"  # consent; legal obligation


def test_has_the_art_30_sections_and_contacts(written):
    _, policy, md, page, *_ = written
    for text in (md, page):
        for article in ("30(1)(a)", "30(1)(b)", "30(1)(c)", "30(1)(d)", "30(1)(e)", "30(1)(f)", "30(1)(g)"):
            assert article in text
        assert policy.controller["contact"] in text and policy.dpo["contact"] in text
        assert all(m in text for m in policy.security_measures)


def test_values_on_a_subjects_row_are_personal_data_in_the_register(written):
    """Art. 4(5), Recital 26: an order amount or an NPS score is personal data through the pseudonymous id."""
    _, _, md, *_ = written
    line = next(line for line in md.splitlines() if line.startswith("| linked_to_a_subject |"))
    assert "orders: order_date, amount" in line and "nps_responses: response_id, responded_at, score" in line
    assert "customer_clv: " in line and "predicted_revenue" in line
    service = next(line for line in md.splitlines() if line.startswith("| service_quality |"))
    assert "score" in service
    parameters = next(line for line in md.splitlines() if line.startswith("| derived |"))  # about no one
    assert "clv_model_parameters" in parameters
    assert "clv_model_parameters" not in line


def test_staging_views_which_store_nothing_are_left_out(written):
    _, _, md, *_ = written
    assert "stg_crm__customers" not in md and "the staging views (stg_*)" in md


def test_retention_rule_lists_the_columns_it_covers(written):
    _, _, md, *_ = written
    line = next(line for line in md.splitlines() if line.startswith("| contact_data |"))
    assert "crm_customers: " in line and "email" in line and "730 days" in line


def test_html_is_escaped(tmp_path):
    from dataclasses import replace
    from datetime import datetime, timezone

    from privacy.tables import Classification

    policy = load_policy()
    policy = replace(policy, controller={**policy.controller, "name": "<script>x</script>"})
    written = write_register(tmp_path, Classification(tmp_path, ()), policy, now=datetime.now(timezone.utc))
    assert all("<script>" not in page.read_text() for _, page in written.values())


def test_undefined_purpose_and_rule_still_appear(tmp_path):
    from datetime import datetime, timezone

    from privacy.tables import Classification, Column, Table

    odd = Column("x", "quasi_identifier", ("lottery",), "6(1)(f)", "forever")
    classification = Classification(tmp_path, (Table("t", "model", (odd,)),))
    md, _ = write_register(tmp_path, classification, load_policy(), now=datetime.now(timezone.utc))["en"]
    text = md.read_text()
    assert "| lottery | (not defined in the policy)" in text and "| forever | (not defined in the policy)" in text


def test_employees_named_by_a_code_are_a_category_of_data_subjects_but_not_the_customers_to_rectify():
    from privacy.register import register_sections
    from privacy.rights.rectify import rectifiable_fields

    classification, policy = load_classification(DBT_PROJECT), load_policy()
    [rows] = [rows for title, _, rows in register_sections(classification, policy) if title.startswith("Categories of data")]
    tables = {category: tables.split("; ")[0].split(", ") for category, _, tables in rows}
    assert {"crm_customers", "key_accounts", "snap_crm__customers"} <= set(tables["employee"])
    assert "orders" not in tables["employee"]
    [purposes] = [rows for title, _, rows in register_sections(classification, policy) if title.startswith("Purposes")]
    subjects = {row[0]: row[5] for row in purposes}  # per purpose: only the columns it uses count
    employees = policy.subject_categories["employee"]
    assert employees in subjects["account_management"] and employees not in subjects["contract"]
    assert "account_manager" not in rectifiable_fields(classification.table("crm_customers", "source"))


def test_the_records_outside_the_warehouse_are_among_their_purposes_data_and_subjects():
    """DPO review: the audit log and the request records name employees by their account name, but no
    purpose named them as data subjects, nor these records among its data (Art. 30(1)(b)-(c))."""
    from privacy.register import register_sections

    classification, policy = load_classification(DBT_PROJECT), load_policy()
    sections = {title.split(" (")[0]: rows for title, _, rows in register_sections(classification, policy)}
    compliance = next(row for row in sections["Purposes of the processing and legal basis"]
                      if row[0] == "privacy_compliance")
    assert policy.subject_categories["employee"] in compliance[5]
    assert compliance[6].endswith("outside the warehouse, by retention rule: consent_records, rejected_requests, "
                                  "access_exports, request_records, audit_log, lookup_indexes, erasure_tombstones, "
                                  "breach_register")  # the breach register had no rule and was in no purpose
    employees = next(row for row in sections["Categories of data subjects"] if row[0] == "employee")
    assert employees[2].endswith("; outside the warehouse, by retention rule: request_records, audit_log, "
                                 "breach_register")


def test_each_consent_purpose_names_the_processing_that_needs_it_or_says_none_does():
    from privacy.register import register_sections

    classification, policy = load_classification(DBT_PROJECT), load_policy()
    [rows] = [rows for title, _, rows in register_sections(classification, policy) if title.startswith("Consent purposes")]
    needed = {purpose: by for purpose, _, by in rows}
    assert needed["marketing_email"] == needed["profiling"] == "direct_marketing"
    assert needed["third_party_sharing"].startswith("no purpose")


def test_lists_each_legitimate_interest_and_each_further_processing_with_its_assessment(written):
    """Art. 6(1)(f) and 6(4): the register shows what was weighed, from the policy."""
    _, policy, md, page, *_ = written
    for text in (md, page):
        assert "Legitimate interests (Art. 6(1)(f)" in text and "compatibility with the purpose of collection (Art. 6(4))" in text
        assert policy.purposes["analytics"].legitimate_interest["balancing"] in text
        assert policy.purposes["account_management"].compatibility["link"] in text
    further = md.split("(Art. 6(4))\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in further.splitlines() if line.startswith("| ")}
    assert "no assessment needed: based on the data subject's consent" in rows["direct_marketing"]
    assert "no assessment needed: based on Union or Member State law that safeguards an objective of Art. 23(1)" \
           in rows["fiscal"] and "Art. 23(1)(e): taxation" in rows["fiscal"]
    assert policy.purposes["service_quality"].compatibility["link"] in rows["service_quality"]  # through lineage
    assert "6(1)(b)" in rows["analytics"] and "contract" not in rows


def test_the_dutch_register_gives_every_text_of_the_policy_and_its_own_in_dutch(written):
    """Art. 30(1), 30(4): the register in the language of the Dutch supervisory authority."""
    classification, policy, md, page, md_nl, page_nl = written
    assert policy.dutch, "the policy gives its texts in Dutch"
    for english, dutch in policy.dutch.items():
        for text in (md_nl, page_nl):
            assert dutch in text, dutch
        assert dutch not in md or dutch == english
    from privacy.register import register_sections

    cells = {cell for _, headers, rows in register_sections(classification, policy, "nl") for row in [headers, *rows]
             for cell in row}
    assert not {english for english, dutch in policy.dutch.items() if english != dutch} & cells  # none left in English
    for text in (md_nl, page_nl):
        for heading in ("art. 30 lid 1 onder a", "art. 30 lid 1 onder g", "art. 6 lid 4", "Bewaartermijn"):
            assert heading in text
    assert "| analytics | Gepseudonimiseerde segmentatie" in md_nl and "| art. 6 lid 1 onder f AVG |" in md_nl
    assert "730 dagen (ongeveer 2,0 jaar)" in md_nl and "| verwijderen |" in md_nl
    assert 'href="register_of_processing.html"' in page_nl.replace("'", '"')
    # table and column names stay as in the warehouse
    assert "crm_customers: customer_id, first_name" in md_nl


def test_a_policy_text_without_dutch_stays_english_and_plain_texts_stay_as_they_are(tmp_path):
    import yaml

    from privacy.policy import DEFAULT_POLICY

    raw = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    raw["purposes"]["contract"]["description"] = "Only English here"
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    policy = load_policy(path)
    assert policy.text("Only English here", "nl") == "Only English here"
    assert policy.purposes["fiscal"].description.startswith("Bookkeeping")  # {en, nl}: the English
    assert policy.text(policy.purposes["fiscal"].description, "nl").startswith("Boekhouding")
    assert set(policy.purposes["fiscal"].plain) == {"nl", "en"}  # texts for data subjects keep both


def test_the_register_says_when_it_was_made_as_its_reader_writes_a_time(tmp_path):
    """Dutch review: the verwerkingsregister said 'Gegenereerd op 2026-12-07T18:45:45.000000Z'."""
    from datetime import datetime, timezone

    from privacy.register import write_register

    from privacy.policy import load_policy
    from privacy.tables import Classification

    write_register(tmp_path, Classification(tmp_path, ()), load_policy(),
                   now=datetime(2026, 12, 7, 18, 45, 45, tzinfo=timezone.utc))
    texts = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.md")}
    assert "Gegenereerd op 7 december 2026, 19:45 uit" in texts["verwerkingsregister.md"]
    assert "Generated 7 December 2026, 19:45 from" in texts["register_of_processing.md"]
