"""Expected purchases, P(alive), expected spend and discounted CLV per subject of the customer base
over the horizon (the models were fitted on every customer's summary; see int_orders_summarised_for_clv)."""

import math

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from orchestration.clv import as_pandas, bgnbd, gamma_gamma, predict

    summary = as_pandas(dbt.ref("int_orders_summarised_for_clv")).rename(columns={"t": "T"})
    summary = summary[summary["in_customer_base"].eq(True)]  # as SQL's where: null is not true
    params = as_pandas(dbt.ref("int_clv_parameters_fitted"))
    value = {(m, p): v for m, p, v in params.itertuples(index=False)}
    bg_values = [value.get(("bgnbd", k)) for k in ("r", "alpha", "a", "b")]
    gg_values = [value.get(("gamma_gamma", k)) for k in ("p", "q", "gamma")]
    if summary.empty or any(v is None or math.isnan(v) for v in bg_values + gg_values):
        # no fitted model (see int_clv_parameters_fitted): no prediction, null rather than a made-up 0
        nothing = pd.array([None] * len(summary), dtype="Float64")  # null on every engine, not NaN
        # subject_id as "string": an empty object column reaches DuckDB as INTEGER, and the next
        # build's unit tests read their fixtures' types from the table (privacy review: after a
        # retention sweep left no customer, a build failed on that until the end of time)
        return summary[["subject_id"]].astype({"subject_id": "string"}).assign(
            expected_purchases=nothing, p_alive=nothing, expected_avg_spend=nothing, clv=nothing)
    bg = bgnbd.BGNBDParams(*bg_values)
    gg = gamma_gamma.GammaGammaParams(*gg_values)
    return predict(summary, horizon_periods=float(dbt.config.get("horizon")),
                   discount_rate_per_period=float(dbt.config.get("discount")),
                   bgnbd_params=bg, gamma_gamma_params=gg)
