"""BG/NBD and Gamma-Gamma parameters fitted by maximum likelihood on the CLV summary.

Fader, Hardie & Lee (2005) "Counting your customers the easy way" (BG/NBD) and Fader & Hardie
(2013) "The Gamma-Gamma model of monetary value"; the fit lives in orchestration.clv.
"""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from orchestration.clv import as_pandas, bgnbd, gamma_gamma

    summary = as_pandas(dbt.ref("int_orders_summarised_for_clv"), order_by="subject_id")  # the same fit each run
    if summary.empty:
        # "string", not str: an empty object column reaches DuckDB as INTEGER
        return pd.DataFrame({"model": pd.Series(dtype="string"), "parameter": pd.Series(dtype="string"),
                             "value": pd.Series(dtype="Float64")})
    # A customer whose first purchase is on the calibration end has had no time yet (T = 0): nothing
    # for BG/NBD to learn from, and predicted from the population like every other customer.
    observed = summary[summary["t"] > 0]
    bg = bgnbd.fit(observed["frequency"], observed["recency"], observed["t"]) if len(observed) else None
    # Gamma-Gamma models positive spend: a repeat customer whose repeat days came to 0 (free
    # replacements, say) stays out of the fit, and its prediction leans on the population mean.
    spent = summary[summary["monetary_value"] > 0]
    gg = gamma_gamma.fit(spent["frequency"], spent["monetary_value"]) if len(spent) else None
    rows = _rows("bgnbd", bg, ("r", "alpha", "a", "b", "log_likelihood", "n"))
    rows += _rows("gamma_gamma", gg, ("p", "q", "gamma", "log_likelihood", "n"))
    # Float64 holds a missing value as null on every engine (NaN stays NaN on Spark and Snowflake).
    return pd.DataFrame(rows, columns=["model", "parameter", "value"]).astype({"value": "Float64"})


def _rows(model: str, params, names) -> list:
    """The fitted parameters; without customers to fit them on (a first day of orders, or no repeat
    purchase yet) they are null, n is 0, and int_clv_predictions predicts nothing."""
    if params is None:
        return [(model, k, 0.0 if k == "n" else None) for k in names] + [(model, "converged", 0.0)]
    return [(model, k, float(getattr(params, k))) for k in names] + [(model, "converged", float(params.converged))]
