"""The simulator behind the benchmark, and a small benchmark run."""
import numpy as np
import pytest

from orchestration.clv import bgnbd
from orchestration.clv.bench import CDNOW_PARAMS, bench, simulate


def test_simulated_summaries_are_valid():
    x, tx, T = simulate(10_000, seed=3)
    assert x.dtype.kind == "i" and (x >= 0).all()
    assert (tx >= 0).all() and (tx <= T).all() and (tx[x == 0] == 0).all()
    assert (tx[x > 0] > 0).all() and ((T >= 27) & (T <= 39)).all()
    again = simulate(10_000, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((x, tx, T), again))


def test_fit_recovers_the_simulated_parameters():
    fitted = bgnbd.fit(*simulate(50_000, seed=5))
    for name, true in CDNOW_PARAMS.items():
        assert getattr(fitted, name) == pytest.approx(true, rel=0.1), name


def test_small_benchmark_agrees_with_lifetimes():
    result = bench(3_000, seed=1, repeats=1)
    assert result["max_param_diff"] < 1e-3 and result["converged"]
    assert result["ours_s"] > 0 and result["lifetimes_s"] > 0
