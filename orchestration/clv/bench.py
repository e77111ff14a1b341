"""Simulate a BG/NBD customer base and time our fit against lifetimes' BetaGeoFitter.

The simulation follows the BG/NBD story of Fader, Hardie & Lee (2005, Marketing Science 24(2)):
while active, customer i buys as a Poisson process with rate lambda_i ~ Gamma(r, rate alpha);
after each repeat purchase the customer drops out with probability p_i ~ Beta(a, b).  So the
number of repeat purchases before dropout is N_i ~ Geometric(p_i) on {1, 2, ...}; in (0, T_i]
the customer makes K_i ~ Poisson(lambda_i T_i) purchases if still active, x_i = min(K_i, N_i),
and given K_i the purchase times are uniform order statistics, so t_x = T_i * Beta(x_i, K_i -
x_i + 1) (the x-th smallest of K uniforms).  Everything is drawn in one vectorised pass.

lifetimes is a development dependency only; it is imported inside ``bench``.
"""
from __future__ import annotations

import time

import numpy as np

from . import bgnbd

CDNOW_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL (2005), weeks


def simulate(n_customers: int, seed: int = 0, *, T_min: float = 27.0, T_max: float = 39.0):
    """Draw (frequency, recency, T) for n customers of CDNOW's parameters; T ~ Uniform(T_min, T_max)
    (CDNOW-like)."""
    r, alpha, a, b = (CDNOW_PARAMS[k] for k in ("r", "alpha", "a", "b"))
    rng = np.random.default_rng(seed)
    T = rng.uniform(T_min, T_max, n_customers)
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    k = rng.poisson(lam * T)
    x = np.minimum(k, rng.geometric(p))
    has = x > 0
    u = np.zeros(n_customers)
    u[has] = rng.beta(x[has], k[has] - x[has] + 1)
    return x, u * T, T


def _best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench(n_customers: int, seed: int = 0, *, repeats: int = 3) -> dict:
    """Fit one simulated population with ours and with lifetimes; best-of-``repeats`` seconds
    (after a warm-up fit on 500 customers for each) and the largest |parameter difference|.

    lifetimes' time includes what its ``fit`` always does after optimising (an autograd
    Hessian for standard errors); ours is the whole ``bgnbd.fit``.
    """
    from lifetimes import BetaGeoFitter  # dev dependency

    x, tx, T = simulate(n_customers, seed)
    for warm in (bgnbd.fit, BetaGeoFitter().fit):
        warm(*simulate(500, seed + 1))
    ours_s, ours = _best_time(lambda: bgnbd.fit(x, tx, T), repeats)
    theirs_s, theirs = _best_time(lambda: BetaGeoFitter().fit(x, tx, T), repeats)
    names = ("r", "alpha", "a", "b")
    ref = {k: float(theirs.params_[k]) for k in names}
    return {"n_customers": n_customers, "ours_s": ours_s, "lifetimes_s": theirs_s,
            "speedup": theirs_s / ours_s,
            "max_param_diff": max(abs(getattr(ours, k) - ref[k]) for k in names),
            "ours": {k: getattr(ours, k) for k in names}, "lifetimes": ref,
            "converged": ours.converged}


if __name__ == "__main__":  # python -m orchestration.clv.bench [n] [seed]
    import sys

    args = [int(v) for v in sys.argv[1:3]]
    print(bench(*(args or [100_000])))
