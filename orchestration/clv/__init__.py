"""Predictive customer lifetime value (BG/NBD + Gamma-Gamma), pure numpy/scipy/pandas.

No Dagster or dbt imports here: the orchestration layer calls ``predict`` on a summary table
built with ``summary_sql`` (see design.md section 5).
"""
from .bgnbd import BGNBDParams, expected_purchases, p_alive
from .bgnbd import fit as fit_bgnbd
from .clv import SUMMARY_COLUMNS, predict
from .gamma_gamma import GammaGammaParams, expected_avg_spend
from .gamma_gamma import fit as fit_gamma_gamma
from .summary_sql import SUMMARY_SQL, summarise, summary_sql

__all__ = [
    "BGNBDParams", "GammaGammaParams", "SUMMARY_COLUMNS", "SUMMARY_SQL", "expected_avg_spend",
    "expected_purchases", "fit_bgnbd", "fit_gamma_gamma", "p_alive", "predict", "summarise",
    "summary_sql",
]
