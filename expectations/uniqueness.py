"""Whole-file id uniqueness with pandas (GDPR Art. 5(1)(d), accuracy).

GE would check uniqueness per chunk only, and it flags exact copies as well, so this module
decides what "expect_column_values_to_be_unique:<id>" means for a landing file.
"""

import pandas as pd


def duplicate_ids(df: pd.DataFrame, id_column: str, compare: list[str]) -> tuple[list, list]:
    """(conflicting rows, collapsible rows) by index label, comparing the `compare` columns.

    Conflicting: every row whose id occurs more than once with different values; none can be
    trusted over the others, so all go to quarantine. Collapsible: a later exact copy of a row
    whose id has no conflict; it adds nothing, and loading it would double-count. Missing ids are
    left to the not-null rule.
    """
    ids = df[id_column].mask(df[id_column].eq(""))
    repeated = ids.notna() & ids.duplicated(keep=False)
    if not repeated.any():
        return [], []
    rows = df.loc[repeated, compare]  # only the few rows with a repeated id are compared in full
    versions = rows.drop_duplicates().groupby(id_column, sort=False).size()
    conflicting = rows[id_column].isin(versions.index[versions > 1])
    later_copies = rows.duplicated(keep="first") & ~conflicting
    return rows.index[conflicting].tolist(), rows.index[later_copies].tolist()
