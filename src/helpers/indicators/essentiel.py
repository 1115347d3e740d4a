"""« L'essentiel »: the rules that pick the key messages of an edition, as pure functions of small
frames. Each rule returns the facts of its message, or None when the data do not support one (too
few rows, a change or a gap too small to be a message). The wording is in chapters/essentiel.py."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

# thresholds of the rules: below them, no message
MIN_CHANGE = 0.02  # a year-on-year change of a benefit smaller than 2 % is no key message
MIN_FOYERS = 1000  # nor a change on fewer foyers
MIN_GAP_POINTS = 3.0  # a gap with France smaller than 3 points (of change over the period) is none
MIN_EPCI = 3  # extremes among fewer EPCI are no extremes
MIN_RATIO = 1.2  # a highest rate less than 1.2 times the lowest: no contrast worth a message


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


@dataclass(frozen=True)
class Change:
    groupe: str
    foyers: float
    variation: float  # ratio: -0.114


def largest_change(groups: pd.DataFrame) -> Change | None:
    """The benefit group whose foyers changed most in a year (columns groupe, foyers, variation), if
    that change reaches MIN_CHANGE on at least MIN_FOYERS foyers."""
    g = groups.dropna(subset=["variation"])
    g = g[g.foyers >= MIN_FOYERS]
    if g.empty:
        return None
    row = g.loc[g.variation.abs().idxmax()]
    if abs(row.variation) < MIN_CHANGE:
        return None
    return Change(str(row.groupe), float(row.foyers), float(row.variation))


@dataclass(frozen=True)
class Gap:
    prestation: str  # AF, CF
    first: int
    last: int
    departement: float  # change first -> last, ratio
    region: float | None
    france: float

    @property
    def points(self) -> float:
        """The gap between the two changes, in percentage points (as a ratio: 0.137)."""
        return self.departement - self.france


def _change(f: pd.DataFrame, prestation: str, territoire: str, first: int, last: int) -> float | None:
    s = f[(f.prestation == prestation) & (f.territoire == territoire)].set_index("annee").foyers
    if first not in s.index or last not in s.index or not s[first]:
        return None
    return float(s[last] / s[first] - 1)


def gap_with_france(series: pd.DataFrame, first: int, last: int) -> Gap | None:
    """The benefit whose change from December `first` to December `last` differs most between the
    département and France (frame annee, prestation, territoire, foyers), if the gap reaches
    MIN_GAP_POINTS points."""
    if last <= first:
        return None
    best = None
    for b in sorted(series.prestation.unique()):
        dep, fr = _change(series, b, "departement", first, last), _change(series, b, "france", first, last)
        if dep is None or fr is None:
            continue
        gap = Gap(b, first, last, dep, _change(series, b, "region", first, last), fr)
        if best is None or abs(gap.points) > abs(best.points):
            best = gap
    if best is None or abs(100 * best.points) < MIN_GAP_POINTS:
        return None
    return best


@dataclass(frozen=True)
class Extremes:
    highest: str
    highest_value: float
    lowest: str
    lowest_value: float
    n: int

    @property
    def ratio(self) -> float:
        return self.highest_value / self.lowest_value


def extremes(table: pd.DataFrame, value: str) -> Extremes | None:
    """The EPCI with the highest and the lowest `value` (columns nom and `value`), if there are at
    least MIN_EPCI of them and the highest is at least MIN_RATIO times the lowest. A tie at either end
    is no extreme (two EPCI would share it): no message."""
    t = table.dropna(subset=[value])
    t = t[t[value] > 0]
    if len(t) < MIN_EPCI:
        return None
    hi, lo = t[value].max(), t[value].min()
    if (t[value] == hi).sum() > 1 or (t[value] == lo).sum() > 1 or hi / lo < MIN_RATIO:
        return None
    return Extremes(str(t.loc[t[value].idxmax(), "nom"]), float(hi), str(t.loc[t[value].idxmin(), "nom"]),
                    float(lo), len(t))


@dataclass(frozen=True)
class Below:
    names: list[str]  # the EPCI below the reference, lowest first
    n: int  # EPCI with a value
    reference: float


def below(table: pd.DataFrame, value: str, reference: float | None) -> Below | None:
    """The EPCI whose `value` is below `reference` (France's), if the reference exists and at least
    MIN_EPCI EPCI have a value."""
    if not _ok(reference):
        return None
    t = table.dropna(subset=[value])
    if len(t) < MIN_EPCI:
        return None
    low = t[t[value] < reference].sort_values(value)
    return Below([str(n) for n in low.nom], len(t), float(reference))
