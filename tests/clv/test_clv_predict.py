"""predict(): discounted CLV, checked against lifetimes' customer_lifetime_value."""
import numpy as np
import pytest

from orchestration.clv import bgnbd, gamma_gamma, predict

WEEKS_PER_MONTH = 4.345  # lifetimes' factor for freq="W"


@pytest.fixture(scope="module")
def lifetimes_params(lifetimes_bgf, lifetimes_ggf):
    b, g = lifetimes_bgf.params_, lifetimes_ggf.params_
    return (bgnbd.BGNBDParams(b["r"], b["alpha"], b["a"], b["b"]),
            gamma_gamma.GammaGammaParams(g["p"], g["q"], g["v"]))


def test_matches_lifetimes_customer_lifetime_value(cdnow_summary, lifetimes_bgf, lifetimes_ggf,
                                                   lifetimes_params):
    s = cdnow_summary
    monthly = 0.01
    theirs = lifetimes_ggf.customer_lifetime_value(
        lifetimes_bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"],
        time=12, discount_rate=monthly, freq="W")
    ours = predict(s, horizon_periods=12 * WEEKS_PER_MONTH, periods_per_step=WEEKS_PER_MONTH,
                   discount_rate_per_period=(1 + monthly) ** (1 / WEEKS_PER_MONTH) - 1,
                   bgnbd_params=lifetimes_params[0], gamma_gamma_params=lifetimes_params[1])
    np.testing.assert_allclose(ours["clv"].to_numpy(), theirs.to_numpy(), rtol=1e-6)


def test_columns_and_basic_properties(cdnow_summary):
    out = predict(cdnow_summary, horizon_periods=52, discount_rate_per_period=0.002)
    assert list(out.columns) == ["subject_id", "expected_purchases", "p_alive",
                                 "expected_avg_spend", "clv"]
    assert len(out) == len(cdnow_summary) and out.index.equals(cdnow_summary.index)
    assert (out["subject_id"] == cdnow_summary["subject_id"]).all()
    assert out.notna().all().all() and (out["clv"] > 0).all()
    assert (out.loc[cdnow_summary["frequency"] == 0, "p_alive"] == 1.0).all()
    assert out.attrs["bgnbd"]["converged"] and out.attrs["gamma_gamma"]["n"] == 946


def test_undiscounted_clv_is_purchases_times_spend(cdnow_summary, lifetimes_params):
    bg, gg = lifetimes_params
    kw = dict(bgnbd_params=bg, gamma_gamma_params=gg, discount_rate_per_period=0.0)
    one = predict(cdnow_summary, horizon_periods=39, periods_per_step=39, **kw)
    many = predict(cdnow_summary, horizon_periods=39, periods_per_step=2.5, margin=0.3, **kw)
    s = cdnow_summary
    expected = bgnbd.expected_purchases(bg, 39, s["frequency"], s["recency"], s["T"])
    np.testing.assert_allclose(one["expected_purchases"], expected, rtol=1e-12)
    np.testing.assert_allclose(one["clv"], expected * one["expected_avg_spend"], rtol=1e-12)
    np.testing.assert_allclose(many["clv"], 0.3 * one["clv"], rtol=1e-9)  # partial last step


def test_discounting_per_period(cdnow_summary, lifetimes_params):
    bg, gg = lifetimes_params
    s = cdnow_summary.head(5)
    out = predict(s, horizon_periods=3, discount_rate_per_period=0.1, margin=2.0,
                  bgnbd_params=bg, gamma_gamma_params=gg)
    x, tx, T = s["frequency"], s["recency"], s["T"]
    cum = [np.zeros(5)] + [bgnbd.expected_purchases(bg, k, x, tx, T) for k in (1, 2, 3)]
    manual = sum((cum[k] - cum[k - 1]) / 1.1 ** k for k in (1, 2, 3))
    np.testing.assert_allclose(out["clv"], 2.0 * out["expected_avg_spend"] * manual, rtol=1e-12)


def test_rejects_bad_input(cdnow_summary):
    with pytest.raises(ValueError, match="lacks columns"):
        predict(cdnow_summary.drop(columns="T"), horizon_periods=1, discount_rate_per_period=0)
    with pytest.raises(ValueError):
        predict(cdnow_summary, horizon_periods=0, discount_rate_per_period=0)
    with pytest.raises(ValueError):
        predict(cdnow_summary, horizon_periods=1, discount_rate_per_period=-1)
