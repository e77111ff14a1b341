"""Gamma-Gamma: published CDNOW estimates, agreement with lifetimes, gradient, validation."""
import numpy as np
import pytest
from scipy.optimize import check_grad

from orchestration.clv import gamma_gamma


@pytest.fixture(scope="module")
def fitted(cdnow_summary):
    return gamma_gamma.fit(cdnow_summary["frequency"], cdnow_summary["monetary_value"])


def test_reproduces_fader_hardie_2013(fitted, published):
    for name, value in published["gg"].items():
        assert getattr(fitted, name) == pytest.approx(value, abs=0.02), name
    assert fitted.n == 946 and fitted.converged  # the customers with a repeat purchase


def test_agrees_with_lifetimes_fitter(fitted, lifetimes_ggf):
    theirs = lifetimes_ggf.params_
    assert fitted.p == pytest.approx(theirs["p"], abs=1e-3)
    assert fitted.q == pytest.approx(theirs["q"], abs=1e-3)
    assert fitted.gamma == pytest.approx(theirs["v"], abs=1e-3)
    # lifetimes minimises the mean negative log-likelihood of the same full density
    assert fitted.log_likelihood == pytest.approx(-946 * lifetimes_ggf._negative_log_likelihood_,
                                                  abs=1e-3)


def test_expected_spend_matches_lifetimes(lifetimes_ggf, cdnow_summary):
    theirs = lifetimes_ggf.params_
    params = gamma_gamma.GammaGammaParams(theirs["p"], theirs["q"], theirs["v"])
    x, z = cdnow_summary["frequency"], cdnow_summary["monetary_value"]
    ours = gamma_gamma.expected_avg_spend(params, x, z)
    np.testing.assert_allclose(ours, lifetimes_ggf.conditional_expected_average_profit(x, z),
                               rtol=1e-9)
    population_mean = params.p * params.gamma / (params.q - 1)
    assert np.allclose(ours[x.to_numpy() == 0], population_mean)


def test_zero_frequency_rows_are_ignored(fitted, cdnow_summary):
    rep = cdnow_summary[cdnow_summary["frequency"] > 0]
    only = gamma_gamma.fit(rep["frequency"], rep["monetary_value"])
    assert (only.p, only.q, only.gamma) == pytest.approx((fitted.p, fitted.q, fitted.gamma))


def test_log_likelihood_function_agrees(fitted, cdnow_summary):
    ll = gamma_gamma.log_likelihood(fitted, cdnow_summary["frequency"],
                                    cdnow_summary["monetary_value"])
    assert ll == pytest.approx(fitted.log_likelihood, abs=1e-6)


def test_analytic_gradient(cdnow_summary):
    x, z, w = gamma_gamma._repeaters(cdnow_summary["frequency"], cdnow_summary["monetary_value"])
    for theta in (np.zeros(3), np.array([1.8, 1.3, -0.8])):
        err = check_grad(lambda t: gamma_gamma._nll_and_grad(t, x, z / z.mean(), w)[0],
                         lambda t: gamma_gamma._nll_and_grad(t, x, z / z.mean(), w)[1], theta)
        assert err < 1e-5


def test_rejects_non_positive_spend_and_no_repeaters():
    with pytest.raises(ValueError):
        gamma_gamma.fit([1, 2], [10.0, 0.0])
    with pytest.raises(ValueError):
        gamma_gamma.fit([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError):
        gamma_gamma.expected_avg_spend(gamma_gamma.GammaGammaParams(1.0, 0.9, 1.0), [1], [1.0])
