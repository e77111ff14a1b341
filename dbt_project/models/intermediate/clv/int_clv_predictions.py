"""Expected purchases, P(alive), expected spend and discounted CLV per subject over the horizon."""


def model(dbt, session):
    dbt.config(materialized="table")
    from orchestration.clv import bgnbd, gamma_gamma
    from orchestration.clv.clv import predict

    summary = dbt.ref("int_orders_summarised_for_clv").df().rename(columns={"t": "T"})
    params = dbt.ref("int_clv_parameters_fitted").df()
    value = {(m, p): v for m, p, v in params.itertuples(index=False)}
    if summary.empty or not value:
        summary = summary.iloc[0:0]
        return summary[["subject_id"]].assign(expected_purchases=0.0, p_alive=0.0, expected_avg_spend=0.0, clv=0.0)
    bg = bgnbd.BGNBDParams(*(value[("bgnbd", k)] for k in ("r", "alpha", "a", "b")))
    gg = gamma_gamma.GammaGammaParams(*(value[("gamma_gamma", k)] for k in ("p", "q", "gamma")))
    return predict(summary, horizon_periods=float(dbt.config.get("horizon")),
                   discount_rate_per_period=float(dbt.config.get("discount")),
                   bgnbd_params=bg, gamma_gamma_params=gg)
