"""The dbt Python models of the CLV fit, run on CDNOW through DuckDB as dbt-duckdb runs them."""

import duckdb
import pytest

from orchestration.settings import DBT_PROJECT_DIR

MODELS = DBT_PROJECT_DIR / "models" / "intermediate" / "clv"


class _Dbt:
    """The part of dbt-duckdb's `dbt` object the models use: config, and ref -> a DuckDB relation."""

    def __init__(self, con, **config):
        self.con, self.config = con, _Config(config)

    def ref(self, name):
        return self.con.table(name)


class _Config(dict):
    def __call__(self, **kwargs):
        pass


def _model(name: str):
    namespace: dict = {}
    exec(compile((MODELS / f"{name}.py").read_text(), name, "exec"), namespace)
    return namespace["model"]


def test_a_repeat_customer_who_spent_nothing_does_not_stop_the_fit(cdnow_summary, published):
    con = duckdb.connect()
    summary = cdnow_summary.rename(columns={"T": "t"})[["subject_id", "frequency", "recency", "t", "monetary_value"]].copy()
    summary.loc[summary.index[0], ["frequency", "recency", "monetary_value"]] = [2, 10.0, 0.0]  # free replacements
    con.register("summary", summary)
    con.execute("create table int_orders_summarised_for_clv as select * from summary")
    fitted = _model("int_clv_parameters_fitted")(_Dbt(con), con)
    value = {(m, p): v for m, p, v in fitted.itertuples(index=False)}
    for k, expected in published["gg"].items():
        assert value[("gamma_gamma", k)] == pytest.approx(expected, rel=0.02)
    assert value[("gamma_gamma", "n")] == (summary["monetary_value"] > 0).sum()
    con.register("fitted", fitted)
    con.execute("create table int_clv_parameters_fitted as select * from fitted")
    predictions = _model("int_clv_predictions")(_Dbt(con, horizon=52, discount=0.0018), con)
    first = predictions.set_index("subject_id").loc[summary["subject_id"].iloc[0]]
    assert first["expected_avg_spend"] > 0 and first["clv"] > 0
