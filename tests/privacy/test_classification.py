"""The classification of the real dbt project is complete; the checks catch what is missing."""

from pathlib import Path

import pytest
import yaml

from privacy.classification import (direct_identifiers_exposed, load_classification, load_policy,
                                    unclassified_columns, undeclared_columns, unprotected_direct_identifiers)

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
POLICY = load_policy()


@pytest.fixture(scope="module")
def real():
    return load_classification(DBT_PROJECT)


def test_every_column_of_the_real_project_is_classified(real):
    problems = unclassified_columns(real, POLICY)
    assert problems == [], "\n".join(f"{p.table}.{p.column}: {p.problem}" for p in problems)


def test_every_mart_column_is_documented_for_the_bi_users_and_the_access_exports(real):
    marts = [t for t in real if t.layer == "model" and t.path.parts[:2] == ("models", "marts")]
    assert len(marts) >= 10
    assert [f"{t.name}.{c.name}" for t in marts for c in t.columns if not c.description] == []


def test_real_project_keeps_direct_identifiers_out_of_marts_and_encrypted(real):
    assert direct_identifiers_exposed(real) == []
    assert unprotected_direct_identifiers(real) == []


def test_real_sources_are_loaded_with_subject_and_ingest_meta(real):
    customers = real.table("crm_customers", "source")
    assert customers.subject.kind == "customer" and customers.subject.key == "customer_id"
    assert customers.column("email").transform == "encrypt"
    assert customers.column("age_band").from_column == "birth_date"
    assert customers.column("_batch_id").retention == "metadata"  # YAML anchors resolved
    assert customers.column("gender").transform == "keep"


def _project(tmp_path, columns, folder="staging/crm", name="_crm__models.yml", model="stg_x"):
    target = tmp_path / "models" / folder
    target.mkdir(parents=True)
    (target / name).write_text(yaml.safe_dump({"version": 2, "models": [{"name": model, "columns": columns}]}))
    (target / f"{model}.sql").write_text("select 1")
    return load_classification(tmp_path)


def _col(name, **privacy):
    base = {"category": "non_personal", "purposes": ["analytics"], "legal_basis": "6(1)(f)", "retention": "derived"}
    return {"name": name, "meta": {"privacy": {**base, **privacy}}}


def test_column_without_meta_is_reported(tmp_path):
    found = unclassified_columns(_project(tmp_path, [_col("ok"), {"name": "new_column"}]), POLICY)
    assert {(f.table, f.column) for f in found} == {("stg_x", "new_column")}


@pytest.mark.parametrize("bad", [{"category": "secret"}, {"purposes": []}, {"purposes": ["marketing_spam"]},
                                 {"legal_basis": "consent"}, {"legal_basis": None}, {"retention": "forever"},
                                 {"category": "special_category"}])
def test_invalid_classification_is_reported(tmp_path, bad):
    found = unclassified_columns(_project(tmp_path, [_col("c", **bad)]), POLICY)
    assert [f.column for f in found] == ["c"]


def test_special_category_with_art_9_basis_is_fine(tmp_path):
    col = _col("health", category="special_category", legal_basis="6(1)(a) + 9(2)(a)")
    assert unclassified_columns(_project(tmp_path, [col]), POLICY) == []


def test_meta_under_config_is_honoured(tmp_path):
    col = {"name": "c", "config": {"meta": _col("c")["meta"]}}
    assert unclassified_columns(_project(tmp_path, [col]), POLICY) == []


def test_model_sql_without_yaml_is_reported(tmp_path):
    c = _project(tmp_path, [_col("a")])
    (tmp_path / "models" / "staging" / "crm" / "stg_forgotten.sql").write_text("select 1")
    found = unclassified_columns(load_classification(tmp_path), POLICY)
    assert [(f.table, f.column) for f in found] == [("stg_forgotten", "*")] and c


def test_direct_identifier_in_marts_is_reported(tmp_path):
    c = _project(tmp_path, [_col("email", category="direct_identifier")], folder="marts/crm", model="people")
    assert [(f.table, f.column) for f in direct_identifiers_exposed(c)] == [("people", "email")]


def test_undeclared_columns_compares_with_the_warehouse(real):
    found = undeclared_columns(real.table("orders", "source"),
                               ["subject_id", "order_id", "order_date", "amount", "margin", "product_category",
                                "channel", "payment_method", "_source_file", "_source_line", "surprise"])
    assert {(f.column, f.problem.split()[0]) for f in found} == {("surprise", "in"), ("_batch_id", "classified")}


def test_a_subject_id_classified_as_not_personal_is_reported(tmp_path):
    found = unclassified_columns(_project(tmp_path, [_col("subject_id")]), POLICY)
    assert [(f.column, f.problem.split(":")[0]) for f in found] == [("subject_id", "a pseudonymous id is personal data (Art. 4(5))")]


def test_a_table_of_subjects_rows_needs_a_title_for_the_access_export(tmp_path):
    subject = _col("subject_id", category="quasi_identifier")
    assert unclassified_columns(_project(tmp_path / "a", [subject]), POLICY) == []  # staging: a view, not copied
    found = unclassified_columns(_project(tmp_path / "b", [subject], folder="marts/x"), POLICY)
    assert [(f.table, f.column) for f in found] == [("stg_x", "*"), ("stg_x", "subject_id")]
    assert "no meta.title in nl and en: its heading" in found[0].problem
    assert "its column heading" in found[1].problem
    subject["meta"]["title"] = {"nl": "Pseudoniem", "en": "Pseudonym"}
    [found] = unclassified_columns(_project(tmp_path / "c", [subject], folder="marts/x"), POLICY)
    assert found.column == "*"


def test_a_source_system_without_an_origin_text_for_the_access_export_is_reported(real):
    """New-source walkthrough: tickets of a new source system `helpdesk` reached the access export
    with the origin (Art. 15(1)(g)) shown as the bare code 'helpdesk' in both languages; nothing said so."""
    from dataclasses import replace

    moved = replace(real, tables=tuple(replace(t, source="helpdesk") if t.name == "nps_responses" and t.layer == "source"
                                       else t for t in real.tables))
    found = unclassified_columns(moved, POLICY)
    assert [(f.table, f.column) for f in found] == [("nps_responses", "*")]
    assert found[0].problem == ("source system 'helpdesk' has no origin text for the access export (Art. 15(1)(g)): "
                                "add it to SOURCES in privacy/rights/texts.py, in nl and en")
