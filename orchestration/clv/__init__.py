"""Predictive customer lifetime value (BG/NBD + Gamma-Gamma), pure numpy/scipy/pandas.

No Dagster or dbt imports here: the dbt Python models int_clv_parameters_fitted and
int_clv_predictions call the fits and ``predict`` on the summary that the dbt SQL model
int_orders_summarised_for_clv computes with the definitions of the literature.
"""
from .clv import as_pandas, predict

__all__ = ["as_pandas", "predict"]
