"""Predictive customer lifetime value (BG/NBD + Gamma-Gamma), pure numpy/scipy/pandas.

No Dagster or dbt imports here: the dbt Python models int_clv_parameters_fitted and
int_clv_predictions call the fits and ``predict`` on the summary that the dbt SQL model
int_orders_summarised_for_clv computes with the definitions of the literature.
"""
from .bgnbd import BGNBDParams, expected_purchases, p_alive
from .bgnbd import fit as fit_bgnbd
from .clv import SUMMARY_COLUMNS, predict, as_pandas
from .gamma_gamma import GammaGammaParams, expected_avg_spend
from .gamma_gamma import fit as fit_gamma_gamma

__all__ = [
    "BGNBDParams", "GammaGammaParams", "SUMMARY_COLUMNS", "as_pandas", "expected_avg_spend",
    "expected_purchases", "fit_bgnbd", "fit_gamma_gamma", "p_alive", "predict",
]
