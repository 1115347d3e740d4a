"""Indicators: pure functions of checked data frames, one module per chapter. They read
no file and know nothing of the report."""
from __future__ import annotations

import pandas as pd


def end_of_year(year: int) -> pd.Timestamp:
    return pd.Timestamp(year, 12, 31)
