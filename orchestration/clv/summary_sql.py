"""DuckDB SQL that turns transactions into the (x, t_x, T, z-bar) summary the models need.

Definitions follow Fader, Hardie & Lee (2005, Marketing Science 24(2)) and Fader & Hardie
(2013, "The Gamma-Gamma Model of Monetary Value", brucehardie.com/notes/025):

* purchases on the same day are one transaction (their amounts are summed);
* only transactions on or before the calibration end count;
* frequency x      = number of distinct purchase days - 1 (repeat purchases);
* recency t_x      = (last purchase day - first purchase day) / days_per_period;
* T                = (calibration end - first purchase day) / days_per_period;
* monetary_value   = mean value of the repeat transactions (the first one excluded),
                     0 when x = 0.

With days_per_period = 7 (weeks) and calibration end 1997-09-30 this reproduces the CDNOW
summary used by Fader, Hardie & Lee (2005) (lifetimes' cdnow_customers_summary*.csv, which is
the same data rounded to two decimals).  The statement is written to be copied into a dbt model:
replace {source}, {calibration_end} and {days_per_period} by a ref() and two vars.
"""
from __future__ import annotations

import datetime as dt

SUMMARY_SQL = """
with daily as (  -- one transaction per customer and day
    select subject_id, cast(order_date as date) as purchase_date, sum(amount) as amount
    from {source}
    where cast(order_date as date) <= date '{calibration_end}'
    group by subject_id, cast(order_date as date)
),
numbered as (
    select subject_id, purchase_date, amount,
           row_number() over (partition by subject_id order by purchase_date) as purchase_no
    from daily
)
select
    subject_id,
    count(*) - 1 as frequency,
    date_diff('day', min(purchase_date), max(purchase_date)) / {days_per_period} as recency,
    date_diff('day', min(purchase_date), date '{calibration_end}') / {days_per_period} as "T",
    coalesce(avg(amount) filter (where purchase_no > 1), 0) as monetary_value
from numbered
group by subject_id
order by subject_id
"""


def summary_sql(source: str, calibration_end: str | dt.date, days_per_period: float = 7.0) -> str:
    """The summary statement for a relation ``source(subject_id, order_date, amount)``."""
    end = dt.date.fromisoformat(str(calibration_end))
    days = float(days_per_period)
    if not days > 0:
        raise ValueError("days_per_period must be positive")
    return SUMMARY_SQL.format(source=source, calibration_end=end.isoformat(),
                              days_per_period=repr(days))


def summarise(con, source: str, calibration_end, days_per_period: float = 7.0):
    """Run the summary on a DuckDB connection; returns a pandas DataFrame."""
    return con.execute(summary_sql(source, calibration_end, days_per_period)).df()
