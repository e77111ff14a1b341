"""Privacy assets: the generated written policy (Art. 30 register) and the classification gate."""

import json

from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, AssetKey,
                     AssetsDefinition, MaterializeResult, MetadataValue, asset)

from orchestration.project import dbt_project
from orchestration.resources import KlantkluisResource, run_time
from orchestration.settings import DBT_PROJECT_DIR
from privacy.classification import (direct_identifiers_exposed, load_classification, unclassified_columns,
                                    undeclared_columns, unprotected_direct_identifiers)
from privacy.policy import load_policy
from privacy.purpose import assessment_gaps, purpose_violations
from privacy.register import write_register

REGISTER_KEY = AssetKey(["privacy", "register"])
CONTROLLER_CHECK = "controller_named"
CLASSIFICATION_CHECK = "classification_complete"  # blocking: gates publication (see assets.publish)
SCHEMAS = {"source": ["raw"], "model": ["staging", "intermediate", "marts"], "snapshot": ["snapshots"]}


def _fix(schema: str, finding) -> str:
    """The fix for a column that a table dbt does not rebuild (raw, snapshots) keeps after an upgrade
    took it out of the YAML (Art. 5(1)(c), 30(1)(c)); a model's own column is declared in its YAML."""
    if schema not in ("raw", "snapshots") or not finding.problem.endswith("not classified"):
        return ""
    return (f": declare it again, or if its data may go, drop it while nothing runs (`alter table "
            f"{schema}.{finding.table} drop column {finding.column}`; README: Upgrading)")


def _warehouse_findings(con, classification) -> list[str]:
    """Columns in the warehouse that no YAML classifies, and classified columns that are missing."""
    findings = []
    actual: dict[str, list[str]] = {}
    for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema in ('raw','staging','intermediate','marts','snapshots') "
            "order by table_schema, table_name, ordinal_position").fetchall():
        actual.setdefault(f"{schema}.{table}", []).append(column)
    declared = set()
    for t in classification:
        for schema in SCHEMAS[t.layer]:
            if f"{schema}.{t.name}" in actual:
                declared.add(f"{schema}.{t.name}")
                findings += [f"{schema}.{f.table}.{f.column}: {f.problem}" + _fix(schema, f)
                             for f in undeclared_columns(t, actual[f"{schema}.{t.name}"])]
    findings += [f"{name}: table in the warehouse but classified nowhere" for name in sorted(set(actual) - declared)]
    return findings


def build_register_asset(upstream: list[AssetKey]) -> AssetsDefinition:
    @asset(
        key=REGISTER_KEY, group_name="privacy", owners=["team:privacy-office"], kinds={"python"}, deps=upstream,
        description="The register of processing activities (Art. 30(1)) and the Art. 32 security measures, "
                    "generated in English and Dutch, as Markdown and HTML, from privacy/policy.yml and the "
                    "column classification on every build, so policy and code cannot drift.",
        check_specs=[AssetCheckSpec(CLASSIFICATION_CHECK, asset=REGISTER_KEY, blocking=True,
                                    description="Every warehouse column is classified (category, purposes, "
                                    "legal basis, retention); no mart exposes a direct identifier; the raw "
                                    "layer encrypts every direct identifier; every mart keeps to its purpose "
                                    "and, when consent-based, to effective consent; the policy states each "
                                    "legitimate interest (Art. 6(1)(f)) and assesses each further processing "
                                    "not based on consent or law (Art. 6(4)). When it fails, nothing is "
                                    "published (the BI copies keep the last good build): its details name each "
                                    "table and column with the problem. Classify the column in its model's dbt "
                                    "YAML (meta.privacy; README, Add a mart or a column), take it out of the "
                                    "mart, or add the assessment to privacy/policy.yml; then run again."),
                     AssetCheckSpec(CONTROLLER_CHECK, asset=REGISTER_KEY, blocking=False,
                                    description="privacy/policy.yml names your organisation, not the sample it "
                                    "ships with (Voorbeeld Verkoop B.V., example.nl contacts), which the register, "
                                    "every access export, receipt and letter name as the controller and where to "
                                    "exercise one's rights (Art. 13(1)(a)-(b), 30(1)(a)): put in your organisation's "
                                    "name, address, privacy contact and DPO (README, Point it at your own files). "
                                    "Not checked for a demo installation.")],
    )
    def register(context: AssetExecutionContext, klantkluis: KlantkluisResource):
        policy = load_policy()
        classification = load_classification(DBT_PROJECT_DIR)
        manifest = json.loads(dbt_project.manifest_path.read_text())
        written = write_register(klantkluis.paths.register, classification, policy, now=run_time(context),
                                 manifest=manifest)
        with klantkluis.connect(read_only=True) as con:
            findings = [f"{f.table}.{f.column}: {f.problem}" for f in (
                unclassified_columns(classification, policy) + direct_identifiers_exposed(classification)
                + unprotected_direct_identifiers(classification) + assessment_gaps(classification, policy, manifest)
                + purpose_violations(manifest, policy))]
            findings += _warehouse_findings(con, classification)
        check = AssetCheckResult(
            check_name=CLASSIFICATION_CHECK, passed=not findings, severity=AssetCheckSeverity.ERROR,
            metadata={"findings": len(findings),
                      "details": MetadataValue.md("\n".join(f"- {f}" for f in findings[:200]) or "none")})
        # a demo (its generator's truth/ beside the landing files) may keep the sample controller
        sample = [] if klantkluis.paths.truth.is_dir() else policy.sample_details()
        named = AssetCheckResult(check_name=CONTROLLER_CHECK, passed=not sample, severity=AssetCheckSeverity.WARN,
                                 metadata={"sample_fields": ", ".join(sample) or "none"})
        return MaterializeResult(check_results=[check, named], metadata={
            **{f"{kind}_{lang}": MetadataValue.path(str(path)) for lang, paths in written.items()
               for kind, path in zip(("markdown", "html"), paths)},
            "purposes": len(policy.purposes), "retention_rules": len(policy.retention),
            "classified_tables": len(classification.tables)})

    return register
