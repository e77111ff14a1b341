"""BG/NBD and Gamma-Gamma parameters fitted by maximum likelihood on the CLV summary.

Fader, Hardie & Lee (2005) "Counting your customers the easy way" (BG/NBD) and Fader & Hardie
(2013) "The Gamma-Gamma model of monetary value"; the fit lives in orchestration.clv.
"""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from orchestration.clv import bgnbd, gamma_gamma

    # In subject order: the fit's sums then add up in the same order on every run (same last bits).
    summary = dbt.ref("int_orders_summarised_for_clv").order("subject_id").df()
    if summary.empty:
        return pd.DataFrame({"model": pd.Series(dtype=str), "parameter": pd.Series(dtype=str),
                             "value": pd.Series(dtype=float)})
    bg = bgnbd.fit(summary["frequency"], summary["recency"], summary["t"])
    # Gamma-Gamma models positive spend: a repeat customer whose repeat days came to 0 (free
    # replacements, say) stays out of the fit, and its prediction leans on the population mean.
    spent = summary[summary["monetary_value"] > 0]
    gg = gamma_gamma.fit(spent["frequency"], spent["monetary_value"])
    rows = [("bgnbd", k, float(getattr(bg, k))) for k in ("r", "alpha", "a", "b", "log_likelihood", "n")]
    rows += [("gamma_gamma", k, float(getattr(gg, k))) for k in ("p", "q", "gamma", "log_likelihood", "n")]
    rows += [("bgnbd", "converged", float(bg.converged)), ("gamma_gamma", "converged", float(gg.converged))]
    return pd.DataFrame(rows, columns=["model", "parameter", "value"])
