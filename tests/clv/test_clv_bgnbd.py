"""BG/NBD: published CDNOW estimates, agreement with lifetimes, gradient, weights, validation."""
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from orchestration.clv import bgnbd
from orchestration.clv.bench import simulate

NAMES = ("r", "alpha", "a", "b")


@pytest.fixture(scope="module")
def fitted(cdnow_summary):
    s = cdnow_summary
    return bgnbd.fit(s["frequency"], s["recency"], s["T"])


@pytest.fixture(scope="module")
def lifetimes_params(lifetimes_bgf):
    return bgnbd.BGNBDParams(*(float(lifetimes_bgf.params_[k]) for k in NAMES))


def test_reproduces_fader_hardie_lee_2005(fitted, published):
    for name, value in published["bgnbd"].items():
        assert getattr(fitted, name) == pytest.approx(value, abs=0.005), name
    assert fitted.log_likelihood == pytest.approx(published["ll"], abs=0.5)
    assert fitted.n == 2357 and fitted.converged


def test_agrees_with_lifetimes_fitter(fitted, lifetimes_bgf):
    for name in NAMES:
        assert getattr(fitted, name) == pytest.approx(lifetimes_bgf.params_[name], abs=1e-3)


def test_reported_log_likelihood_is_the_full_likelihood(fitted, cdnow_summary):
    s = cdnow_summary
    ll = bgnbd.log_likelihood(fitted, s["frequency"], s["recency"], s["T"])
    assert fitted.log_likelihood == pytest.approx(ll, abs=1e-6)


@pytest.mark.parametrize("t", [1.0, 4.345, 10.0, 39.0, 52.0, 104.0])
def test_conditional_expectation_matches_lifetimes(t, lifetimes_bgf, lifetimes_params,
                                                   cdnow_summary):
    x, tx, T = (cdnow_summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    ours = bgnbd.expected_purchases(lifetimes_params, t, x, tx, T)
    theirs = lifetimes_bgf.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_p_alive_matches_lifetimes(lifetimes_bgf, lifetimes_params, cdnow_summary):
    x, tx, T = (cdnow_summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    ours = bgnbd.p_alive(lifetimes_params, x, tx, T)
    np.testing.assert_allclose(ours, lifetimes_bgf.conditional_probability_alive(x, tx, T),
                               rtol=1e-6)
    assert np.all(ours[x == 0] == 1.0) and np.all((ours > 0) & (ours <= 1))


def test_hypergeometric_overflow_branch(lifetimes_bgf, lifetimes_params):
    # 2F1 overflows for x = 200, t = 1e4 weeks; both sides then use Euler's transformation.
    args = (1e4, np.array([200.0]), np.array([30.0]), np.array([39.0]))
    ours = bgnbd.expected_purchases(lifetimes_params, *args)
    theirs = lifetimes_bgf.conditional_expected_number_of_purchases_up_to_time(*args)
    assert np.isfinite(ours).all() and ours[0] > 0
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_expected_purchases_shapes(fitted):
    assert float(bgnbd.expected_purchases(fitted, 0.0, 2, 30.0, 39.0)) == 0.0
    grid = bgnbd.expected_purchases(fitted, np.array([[1.0, 10.0, 100.0]]),
                                    np.array([[0], [3]]), np.array([[0.0], [20.0]]), 39.0)
    assert grid.shape == (2, 3) and np.all(np.diff(grid, axis=1) > 0)


def test_analytic_gradient(cdnow_summary):
    x, tx, T, w = bgnbd._check(cdnow_summary["frequency"], cdnow_summary["recency"],
                               cdnow_summary["T"])
    data = bgnbd._prepare(x, tx / T.max(), T / T.max(), w)
    for theta in (np.zeros(4), np.array([-1.4, -2.2, -0.2, 0.9]), np.array([0.3, -1, 0.5, 2])):
        err = check_grad(lambda t: bgnbd._nll_and_grad(t, data)[0],
                         lambda t: bgnbd._nll_and_grad(t, data)[1], theta)
        assert err < 1e-5


def test_weights_equal_repeated_rows(fitted, cdnow_summary):
    patterns = (cdnow_summary.groupby(["frequency", "recency", "T"]).size()
                .rename("n").reset_index())
    assert len(patterns) < len(cdnow_summary)
    w = bgnbd.fit(patterns["frequency"], patterns["recency"], patterns["T"], patterns["n"])
    for name in NAMES:
        assert getattr(w, name) == pytest.approx(getattr(fitted, name), rel=1e-6)
    assert w.log_likelihood == pytest.approx(fitted.log_likelihood, abs=1e-6)
    assert w.n == fitted.n


def test_warm_start_reaches_the_same_optimum():
    x, tx, T = simulate(20_000, seed=7)
    cold = bgnbd.fit(x, tx, T, warm_start_rows=0)
    warm = bgnbd.fit(x, tx, T, warm_start_rows=2_000)
    for name in NAMES:
        assert getattr(warm, name) == pytest.approx(getattr(cold, name), rel=1e-5)


@pytest.mark.parametrize("frequency, recency, T", [
    ([1, -1], [1.0, 0.0], [2.0, 2.0]),    # negative frequency
    ([1.5], [1.0], [2.0]),                # not a count
    ([1], [3.0], [2.0]),                  # recency after the calibration end
    ([0], [1.0], [2.0]),                  # recency without repeat purchases
    ([1, 2], [1.0], [2.0, 2.0]),          # unequal lengths
    ([1], [np.nan], [2.0]),               # missing value
])
def test_rejects_invalid_summaries(frequency, recency, T):
    with pytest.raises(ValueError):
        bgnbd.fit(frequency, recency, T)


def test_accepts_pandas_and_integer_input(cdnow_summary, fitted):
    s = cdnow_summary.astype({"frequency": "int64"})
    again = bgnbd.fit(pd.Series(s["frequency"]), s["recency"].to_list(), s["T"].to_numpy())
    assert again.r == pytest.approx(fitted.r, rel=1e-9)


def test_a_fit_on_a_handful_of_customers_says_nothing_on_stderr():
    """Onboarding review: two customers and three orders printed 23 numpy RuntimeWarnings into the
    run's output while the line search tried parameters where a term overflows."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        params = bgnbd.fit(np.array([1.0, 0.0]), np.array([5.0, 0.0]), np.array([10.0, 10.0]))
    assert params.n == 2.0
