"""CDNOW fixtures for the CLV tests, read from the data files inside the lifetimes wheel.

The files are read with importlib.resources: ``lifetimes.datasets`` itself imports
pkg_resources, which is not installed here.
"""
from importlib.resources import files

import pandas as pd
import pytest

from orchestration.clv.bench import CDNOW_PARAMS


@pytest.fixture(scope="session")
def published() -> dict:
    """Fader, Hardie & Lee (2005) BG/NBD and Fader & Hardie (2013) Gamma-Gamma CDNOW estimates."""
    return {"bgnbd": CDNOW_PARAMS, "ll": -9582.4,
            "gg": {"p": 6.25, "q": 3.74, "gamma": 15.44}}


def dataset(name: str):
    return files("lifetimes") / "datasets" / name


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """The published 2,357-customer CDNOW summary (weeks) with z-bar, in our column names."""
    with dataset("cdnow_customers_summary_with_transactions.csv").open() as fh:
        df = pd.read_csv(fh)
    return df.rename(columns={"ID": "subject_id", "x": "frequency", "t_x": "recency",
                              "zbar": "monetary_value"})


@pytest.fixture(scope="session")
def lifetimes_bgf(cdnow_summary):
    from lifetimes import BetaGeoFitter

    s = cdnow_summary
    return BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])


@pytest.fixture(scope="session")
def lifetimes_ggf(cdnow_summary):
    from lifetimes import GammaGammaFitter

    rep = cdnow_summary[cdnow_summary["frequency"] > 0]
    return GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
