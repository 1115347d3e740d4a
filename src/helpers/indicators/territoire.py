"""Indicators of one EPCI (a territory of a CTG): sums of its communes, pure functions of checked frames."""
from __future__ import annotations

import pandas as pd

from helpers.data.cafdata import CafData, communes_year
from helpers.data.reference import Reference

SMALL_COMMUNE = 200  # inhabitants: below, a rate of counts rounded to 5 means little


def part_commune(personnes: pd.Series, population: pd.Series) -> pd.Series:
    """Each commune's share of inhabitants covered by the Caf; none where its population is unknown or under
    SMALL_COMMUNE (the one place of that rule, for the report's map and the EPCI portraits)."""
    return (personnes / population).where(population.notna() & (population >= SMALL_COMMUNE))


def members(ref: Reference, year: int) -> pd.DataFrame:
    """Member communes of every EPCI on the geography of January year+1 (nearest composition available)."""
    comp = ref.communes
    if comp.empty:
        return pd.DataFrame(columns=["code_commune", "nom", "siren_epci", "population_municipale"])
    years = sorted(comp.annee_vigueur.unique())
    near = min(years, key=lambda y: abs(int(y) - (year + 1)))
    return comp[comp.annee_vigueur == near][["code_commune", "nom", "siren_epci", "population_municipale"]]


def communes(data: CafData, ref: Reference, siren: str, year: int) -> pd.DataFrame:
    """The EPCI's communes in December `year`: code, nom, population, measures (NaN where no row)."""
    m = members(ref, year)
    m = m[m.siren_epci == siren]
    rows = communes_year(data, ref, year)
    out = m.merge(rows, left_on="code_commune", right_on="code", how="left").drop(columns=["code"])
    return out.rename(columns={"code_commune": "code", "population_municipale": "population"})


def totals(data: CafData, ref: Reference, siren: str, year: int) -> dict[str, float]:
    """Sums over the EPCI's communes of every measure (counts rounded to 5 in the commune file)."""
    c = communes(data, ref, siren, year)
    measures = [x for x in c.columns if x.startswith("ind")]
    return {k: float(v) for k, v in c[measures].sum(min_count=1).items()}


def evolution(data: CafData, ref: Reference, siren: str, up_to: int) -> pd.DataFrame:
    rows = []
    for y in data.years():
        if y > up_to:
            continue
        t = totals(data, ref, siren, y)
        if pd.notna(t.get("indfoy_ndur")):
            rows.append({"annee": y, "foyers": t["indfoy_ndur"], "personnes": t.get("indnbp_ndur", float("nan")),
                         "source": "s_ben_com_f"})
    return pd.DataFrame(rows)
