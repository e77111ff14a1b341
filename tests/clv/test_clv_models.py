"""The dbt Python models of the CLV fit, run on CDNOW through DuckDB as dbt-duckdb runs them."""

import duckdb
import pandas as pd
import pytest

from orchestration.settings import DBT_PROJECT_DIR

MODELS = DBT_PROJECT_DIR / "models" / "intermediate" / "clv"


class _Dbt:
    """The part of dbt-duckdb's `dbt` object the models use: config, and ref -> a DuckDB relation."""

    def __init__(self, con, spark=False, **config):
        self.con, self.config, self.spark = con, _Config(config), spark

    def ref(self, name):
        return _SparkLike(self.con.table(name).df().sample(frac=1, random_state=1)) if self.spark else self.con.table(name)


class _SparkLike:
    """What dbt-spark's ref gives a model, as far as the models may use it: a frame read with
    toPandas(), in no particular order."""

    def __init__(self, frame):
        self._frame = frame

    def toPandas(self):
        return self._frame.copy()


class _Config(dict):
    def __call__(self, **kwargs):
        pass


def _model(name: str):
    namespace: dict = {}
    exec(compile((MODELS / f"{name}.py").read_text(), name, "exec"), namespace)
    return namespace["model"]


def _run(summary, spark=False):
    """Both models on `summary`: (parameters as {(model, parameter): value}, predictions by subject)."""
    con = duckdb.connect()
    con.register("summary", summary)
    con.execute("create table int_orders_summarised_for_clv as select * from summary")
    fitted = _model("int_clv_parameters_fitted")(_Dbt(con, spark), con)
    con.register("fitted", fitted)
    con.execute("create table int_clv_parameters_fitted as select * from fitted")
    predictions = _model("int_clv_predictions")(_Dbt(con, spark, horizon=52, discount=0.0018), con)
    return {(m, p): v for m, p, v in fitted.itertuples(index=False)}, predictions.set_index("subject_id")


@pytest.fixture
def summary(cdnow_summary):
    columns = ["subject_id", "frequency", "recency", "t", "monetary_value"]
    return cdnow_summary.rename(columns={"T": "t"})[columns].assign(in_customer_base=True)


def test_former_customers_enter_the_fit_but_get_no_prediction(summary):
    """Leaving out the customers who left would make everyone look more loyal; predicting for them
    would profile people whose CRM record their retention rule removed (Art. 5(1)(b), (e))."""
    everyone, _ = _run(summary)
    summary.loc[summary.index[::3], "in_customer_base"] = False
    value, predictions = _run(summary)
    assert value == everyone  # the same fit
    assert set(predictions.index) == set(summary.loc[summary["in_customer_base"], "subject_id"])


def test_a_repeat_customer_who_spent_nothing_does_not_stop_the_fit(summary, published):
    summary.loc[summary.index[0], ["frequency", "recency", "monetary_value"]] = [2, 10.0, 0.0]  # free replacements
    value, predictions = _run(summary)
    for k, expected in published["gg"].items():
        assert value[("gamma_gamma", k)] == pytest.approx(expected, rel=0.02)
    assert value[("gamma_gamma", "n")] == (summary["monetary_value"] > 0).sum()
    first = predictions.loc[summary["subject_id"].iloc[0]]
    assert first["expected_avg_spend"] > 0 and first["clv"] > 0


def test_a_customer_whose_first_order_is_on_the_calibration_end_does_not_stop_the_fit(summary, published):
    summary.loc[summary.index[0], ["frequency", "recency", "t", "monetary_value"]] = [0, 0.0, 0.0, 0.0]  # ordered today
    value, predictions = _run(summary)
    for k, expected in published["bgnbd"].items():
        assert value[("bgnbd", k)] == pytest.approx(expected, rel=0.02)
    assert value[("bgnbd", "n")] == len(summary) - 1
    first = predictions.loc[summary["subject_id"].iloc[0]]
    assert first["p_alive"] == 1.0 and first["expected_purchases"] > 0 and first["clv"] > 0


def test_without_a_repeat_purchase_yet_there_is_no_prediction_rather_than_a_failure(summary):
    summary[["frequency", "recency", "monetary_value"]] = [0, 0.0, 0.0]  # a shop's first day of orders
    value, predictions = _run(summary)
    assert value[("gamma_gamma", "n")] == 0 and value[("gamma_gamma", "converged")] == 0
    assert predictions["clv"].isna().all() and predictions["p_alive"].isna().all()
    # Missing, not NaN: DuckDB reads NaN as null, but Spark and Snowflake would keep a NaN, which
    # sorts above every number (a key account without a prediction on top).
    assert value[("gamma_gamma", "p")] is pd.NA and predictions["clv"].astype(object).map(lambda v: v is pd.NA).all()


def test_the_models_give_the_same_bits_on_an_engine_whose_frames_come_unordered(summary):
    """Portability: the models read refs through as_pandas, not DuckDB's relation API, and put
    the summary in subject order themselves, so the fit's sums add up in the same order."""
    summary.loc[summary.index[::3], "in_customer_base"] = False
    value, predictions = _run(summary)
    spark_value, spark_predictions = _run(summary, spark=True)
    assert spark_value == value  # exactly: the same last bits
    pd.testing.assert_frame_equal(spark_predictions.sort_index(), predictions.sort_index())


def test_with_no_customer_left_both_tables_keep_their_text_columns_text(summary):
    """Privacy review: after the retention sweep left no customer, the empty predictions reached
    DuckDB with subject_id INTEGER, and every later build failed: dbt's unit tests type their
    fixtures from the table ("Could not convert string 'a' to INT32")."""
    con = duckdb.connect()
    con.register("summary", summary.iloc[:0])
    con.execute("create table int_orders_summarised_for_clv as select * from summary")
    fitted = _model("int_clv_parameters_fitted")(_Dbt(con), con)
    con.execute("create table int_clv_parameters_fitted as select * from fitted")
    predictions = _model("int_clv_predictions")(_Dbt(con, horizon=52, discount=0.0018), con)
    assert [str(t) for t in con.sql("select * from fitted").types][:2] == ["VARCHAR", "VARCHAR"]
    assert [str(t) for t in con.sql("select subject_id from predictions").types] == ["VARCHAR"]
    assert con.sql("select count(*) from predictions").fetchone() == (0,)
