"""Predictive customer lifetime value: BG/NBD purchases x Gamma-Gamma spend, discounted.

References
----------
Fader, P.S., Hardie, B.G.S. & Lee, K.L. (2005). "Counting Your Customers" the Easy Way.
    Marketing Science 24(2), 275-284 (expected purchases, eq. 10).
Fader, P.S., Hardie, B.G.S. & Lee, K.L. (2005). RFM and CLV: Using Iso-Value Curves for
    Customer Base Analysis. Journal of Marketing Research 42(4), 415-430 (CLV = purchases x
    spend x margin, discounted; they use continuous discounting, we use discrete steps).
Fader, P.S. & Hardie, B.G.S. (2013). The Gamma-Gamma Model of Monetary Value (notes/025).

The discrete-step scheme is the one of lifetimes' ``customer_lifetime_value``: the horizon is cut
into steps of ``periods_per_step`` model periods, the expected purchases within each step are the
difference of the cumulative conditional expectations at its ends, and step k is discounted at
its end, tau_k = min(k * periods_per_step, horizon):

    CLV_i = margin * E[spend_i] * sum_k (E[Y_i(tau_k)] - E[Y_i(tau_{k-1})]) / (1 + d) ** tau_k

where d is the discount rate per model period.  With periods_per_step = 1 this is
sum_k E[purchases in period k] * spend * margin / (1 + d) ** k.  lifetimes'
``customer_lifetime_value(time=M, discount_rate=d_m, freq="W")`` (monthly steps of 4.345 weeks)
equals predict(horizon_periods=4.345 * M, periods_per_step=4.345,
discount_rate_per_period=(1 + d_m) ** (1 / 4.345) - 1) on a weekly summary.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from . import bgnbd, gamma_gamma

SUMMARY_COLUMNS = ("subject_id", "frequency", "recency", "T", "monetary_value")


def as_pandas(relation, order_by: str | None = None) -> pd.DataFrame:
    """A dbt Python model's ``dbt.ref(...)`` as pandas on any adapter (DuckDB relations have
    ``.df()``, Snowpark DataFrames ``.to_pandas()``, PySpark ones ``.toPandas()``), in the order of
    ``order_by``: a fit's sums then add up in the same order on every run and engine (same last bits)."""
    for method in ("df", "to_pandas", "toPandas"):
        if callable(convert := getattr(relation, method, None)):
            frame = convert()
            return frame.sort_values(order_by, kind="stable", ignore_index=True) if order_by else frame
    raise TypeError(f"cannot read a {type(relation).__name__} as pandas")


def predict(summary_df: pd.DataFrame, *, horizon_periods: float, discount_rate_per_period: float,
            margin: float = 1.0, periods_per_step: float = 1.0,
            bgnbd_params: bgnbd.BGNBDParams | None = None,
            gamma_gamma_params: gamma_gamma.GammaGammaParams | None = None) -> pd.DataFrame:
    """Discounted CLV per customer over ``horizon_periods`` model periods.

    ``summary_df`` has the columns of SUMMARY_COLUMNS, in the time unit of the model (see
    int_orders_summarised_for_clv).  The BG/NBD model is fitted on all rows and the Gamma-Gamma model on the rows
    with frequency > 0, unless fitted parameters are passed in.  Returns subject_id,
    expected_purchases (undiscounted, over the horizon), p_alive (at the calibration end),
    expected_avg_spend and clv; the parameters used are in ``result.attrs`` (as dicts).
    """
    missing = [c for c in SUMMARY_COLUMNS if c not in summary_df.columns]
    if missing:
        raise ValueError(f"summary_df lacks columns {missing}")
    if not (horizon_periods > 0 and periods_per_step > 0 and discount_rate_per_period > -1):
        raise ValueError("need horizon_periods > 0, periods_per_step > 0, discount rate > -1")
    x = summary_df["frequency"].to_numpy(dtype=float)
    tx = summary_df["recency"].to_numpy(dtype=float)
    T = summary_df["T"].to_numpy(dtype=float)
    z = summary_df["monetary_value"].to_numpy(dtype=float)
    bg = bgnbd.fit(x, tx, T) if bgnbd_params is None else bgnbd_params
    gg = gamma_gamma.fit(x, z) if gamma_gamma_params is None else gamma_gamma_params

    n_steps = max(1, math.ceil(horizon_periods / periods_per_step - 1e-9))
    ends = np.minimum(np.arange(1, n_steps + 1) * periods_per_step, horizon_periods)
    # E[Y(t)] = E[Y(t) | alive] x P(alive), and the first factor depends on (x, T) only: computed once
    # per distinct pair (about 1 in 8 customers at 1 M), it is the hypergeometric function's cost.
    pair, distinct = pd.factorize(x + 1j * T, use_na_sentinel=False)  # a hash of the pair, in O(customers)
    dx, dT = distinct.real, distinct.imag
    previous = np.zeros_like(dx)
    discounted = np.zeros_like(dx)
    for tau in ends:  # one pass per step keeps memory at O(customers)
        cumulative = bgnbd.expected_purchases_if_alive(bg, tau, dx, dT)
        discounted += (cumulative - previous) / (1.0 + discount_rate_per_period) ** tau
        previous = cumulative
    alive = bgnbd.p_alive(bg, x, tx, T)
    spend = gamma_gamma.expected_avg_spend(gg, x, z)
    result = pd.DataFrame({
        "subject_id": summary_df["subject_id"].to_numpy(),
        "expected_purchases": previous[pair] * alive,
        "p_alive": alive,
        "expected_avg_spend": spend,
        "clv": margin * spend * discounted[pair] * alive,
    }, index=summary_df.index)
    result.attrs["bgnbd"] = dataclasses.asdict(bg)
    result.attrs["gamma_gamma"] = dataclasses.asdict(gg)
    return result
