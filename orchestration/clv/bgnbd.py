"""BG/NBD model of repeat purchasing: maximum-likelihood fit, conditional expectations, P(alive).

References
----------
Fader, P.S., Hardie, B.G.S. & Lee, K.L. (2005). "Counting Your Customers" the Easy Way: An
    Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284. Likelihood eq. (6),
    E[Y(t)|x,t_x,T] eq. (10); CDNOW: r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4.
Fader, P.S., Hardie, B.G.S. & Lee, K.L. (2005). Implementing the BG/NBD Model for Customer
    Base Analysis in Excel (brucehardie.com/notes/004): the A1..A4 decomposition used below.
Fader, P.S., Hardie, B.G.S. & Lee, K.L. (2008). Computing P(alive) Using the BG/NBD Model
    (brucehardie.com/notes/021).

Per customer: x = frequency (repeat purchases), t_x = recency (last minus first purchase),
T = age (calibration end minus first purchase), all in one time unit.  Fitted on log-parameters
with analytic gradients, time scaled by 1/max(T) while fitting (as lifetimes does).
"""
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters; log_likelihood, n and converged are only meaningful from fit()."""
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    n: float = 0.0  # number of customers (sum of weights)
    converged: bool = False


def _check(frequency, recency, T, weights=None):  # -> float arrays x, t_x, T, w
    x, tx, T = (np.asarray(v, dtype=float).ravel() for v in (frequency, recency, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not (x.shape == tx.shape == T.shape == w.shape) or x.size == 0:
        raise ValueError("frequency, recency, T (and weights) must be non-empty and equally long")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be a non-negative integer")
    if np.any(tx < 0) or np.any(tx > T) or np.any((x == 0) & (tx != 0)) or np.any(T <= 0):
        raise ValueError("need 0 <= recency <= T, T > 0 and recency = 0 when frequency = 0")
    if np.any(w < 0) or not np.isfinite(np.concatenate([x, tx, T, w])).all():
        raise ValueError("weights must be non-negative and all inputs finite")
    return x, tx, T, w


def _prepare(x, tx, T, w):
    """Split customers once: per-x counts for the gamma-function terms, x=0 and x>0 rows."""
    ux, inv = np.unique(x, return_inverse=True)
    pos = x > 0
    return (w.sum(), ux, np.bincount(inv, weights=w), T[~pos], w[~pos],
            x[pos], tx[pos], T[pos], w[pos])


def _dot(u, v) -> float:
    return float(np.einsum("i,i->", u, v))  # no BLAS: threaded ddot stalls on busy cores


def _nll_and_grad(theta, data):
    """Mean negative log-likelihood (eq. 6 via note 004's A1..A4) and its gradient in log-params."""
    W, ux, cnt, T0, w0, xp, txp, Tp, wp = data
    params = np.exp(theta)
    r, al, a, b = params
    # A1 + A2 depend on x only: sum them over the distinct x values, weighted by counts.
    ll = _dot(cnt, gammaln(r + ux) - gammaln(r) + gammaln(a + b) + gammaln(b + ux)
              - gammaln(b) - gammaln(a + b + ux)) + W * r * np.log(al)
    g_r = _dot(cnt, digamma(r + ux) - digamma(r)) + W * np.log(al)
    g_al = W * r / al
    g_ab = _dot(cnt, digamma(a + b) - digamma(a + b + ux))
    g_a, g_b = g_ab, g_ab + _dot(cnt, digamma(b + ux) - digamma(b))
    lT0 = np.log(al + T0)  # x = 0: only A3 = -r ln(alpha + T)
    ll, g_r = ll - r * _dot(w0, lT0), g_r - _dot(w0, lT0)
    g_al -= r * _dot(w0, 1.0 / (al + T0))
    # x > 0: ln(exp(A3) + exp(A4)) = A3 + log1p(exp(A4 - A3)), a stable log-sum-exp.
    rx, lT, lt, bx = r + xp, np.log(al + Tp), np.log(al + txp), b + xp - 1.0
    d = np.log(a) - np.log(bx) - rx * (lt - lT)  # A4 - A3
    ll += _dot(wp, np.logaddexp(0.0, d) - rx * lT)
    wq = wp * expit(d)  # weight x posterior share of the "dropped out after t_x" term
    g_r -= _dot(wp, lT) + _dot(wq, lt - lT)
    iT = rx / (al + Tp)
    g_al -= _dot(wp, iT) + _dot(wq, rx / (al + txp) - iT)
    g_a, g_b = g_a + wq.sum() / a, g_b - _dot(wq, 1.0 / bx)
    grad = np.array([g_r, g_al, g_a, g_b]) * params  # chain rule for log-parameters
    return -ll / W, -grad / W


def log_likelihood(params, frequency, recency, T, weights=None) -> float:
    """Total (weighted) BG/NBD log-likelihood of the data at the given parameters."""
    data = _prepare(*_check(frequency, recency, T, weights))
    theta = np.log([params.r, params.alpha, params.a, params.b])
    return float(-_nll_and_grad(theta, data)[0] * data[0])


def _bfgs(data, theta0, hess_inv0=None, gtol=1e-8):
    opts = {"gtol": gtol, "maxiter": 1000}
    opts.update({} if hess_inv0 is None else {"hess_inv0": hess_inv0})
    # The line search may try parameters where a term overflows (a few customers, say): it backs off
    # on its own, and whether the fit converged is in the result, so numpy's warnings are noise.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return minimize(_nll_and_grad, theta0, args=(data,), jac=True, method="BFGS", options=opts)


def fit(frequency, recency, T, weights=None, *, gtol: float = 1e-8,
        warm_start_rows: int = 10_000) -> BGNBDParams:
    """Maximum-likelihood BG/NBD fit (FHL 2005). ``weights``: customers per (x, t_x, T) row.

    With more than 4 x ``warm_start_rows`` rows, BFGS first runs on a fixed random subsample
    and the full-data BFGS starts from its optimum and inverse Hessian (only speeds it up).
    """
    x, tx, T, w = _check(frequency, recency, T, weights)
    scale = 1.0 / T.max()
    txs, Ts = tx * scale, T * scale
    theta0, h0 = np.zeros(4), None
    if x.size > 4 * warm_start_rows > 0:
        i = np.random.default_rng(0).choice(x.size, warm_start_rows, replace=False)
        warm = _bfgs(_prepare(x[i], txs[i], Ts[i], w[i]), theta0, gtol=1e-6)
        h = (warm.hess_inv + warm.hess_inv.T) / 2
        if np.all(np.isfinite(h)) and np.all(np.linalg.eigvalsh(h) > 0):
            theta0, h0 = warm.x, h
    data = _prepare(x, txs, Ts, w)
    res = _bfgs(data, theta0, h0, gtol)
    r, al, a, b = (float(v) for v in np.exp(res.x))
    small_grad = np.max(np.abs(res.jac)) < 1e-6  # BFGS may stop on precision loss at the optimum
    # Scaling time by c shifts the log-likelihood by -sum(w x) ln c: undo it.
    ll = -res.fun * data[0] + _dot(w, x) * np.log(scale)
    return BGNBDParams(r, float(al / scale), a, b, float(ll), float(w.sum()),
                       bool(res.success or small_grad))


def expected_purchases(params, t, frequency, recency, T):
    """E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t], FHL 2005 eq. (10).

    Eq. (10) is the expectation for a customer still alive at T times P(alive at T).
    """
    return expected_purchases_if_alive(params, t, frequency, T) * p_alive(params, frequency, recency, T)


def expected_purchases_if_alive(params, t, frequency, T):
    """E[Y(t) | alive at T, x, T], the numerator of FHL 2005 eq. (10); it does not depend on t_x.

    So customers who share (x, T) share it: predict() computes it once per distinct pair.
    """
    r, al, a, b = params.r, params.alpha, params.a, params.b
    x, T, t = (np.asarray(v, dtype=float) for v in (frequency, T, t))
    _a, _b, _c, z = np.broadcast_arrays(r + x, b + x, a + b + x - 1.0, t / (al + T + t))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ln_h = np.array(np.log(hyp2f1(_a, _b, _c, z)))
        bad = np.isinf(ln_h)  # series overflow: use Euler's transformation (as lifetimes does)
        if bad.any():
            ca, cb, c, zb = _c[bad] - _a[bad], _c[bad] - _b[bad], _c[bad], z[bad]
            ln_h[bad] = np.log(hyp2f1(ca, cb, c, zb)) + (ca + cb - c) * np.log1p(-zb)
        return (a + b + x - 1.0) / (a - 1.0) * -np.expm1(ln_h + _a * np.log((al + T) / (al + T + t)))


def p_alive(params, frequency, recency, T):
    """P(alive at T | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))."""
    r, al, a, b = params.r, params.alpha, params.a, params.b
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    log_odds = (r + x) * np.log((al + T) / (al + tx)) + np.log(a / (b + np.maximum(x, 1.0) - 1.0))
    return np.where(x == 0, 1.0, expit(-log_odds))
