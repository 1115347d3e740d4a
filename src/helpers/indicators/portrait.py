"""Portrait indicators: département totals, evolution, benefit groups, coverage by EPCI,
family configurations, AF/CF index."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.data.cafdata import BENEFIT_GROUPS, CafData, Totals, communes_year, totals
from helpers.data.reference import Reference
from helpers.data.series import DepSeries
from helpers.indicators.territoire import members  # the one rule for the composition of the EPCI


@dataclass(frozen=True)
class PortraitYear:
    year: int
    totals: Totals
    previous: Totals | None
    population: int
    population_year: int
    part_habitants_couverts: float  # personnes couvertes / population (the Caf's coverage)
    share_without_children: float | None
    share_without_children_previous: float | None


def share_without_children(data: CafData, year: int) -> float | None:
    if data.family is None:
        return None
    f = data.family.december(year)
    if f.empty or f.foyers.sum() == 0:
        return None
    return float(f.loc[f.nb_enfants == "0", "foyers"].sum() / f.foyers.sum())


def family_table(data: CafData, year: int) -> pd.DataFrame | None:
    if data.family is None:
        return None
    f = data.family.december(year)
    if f.empty:
        return None
    t = f.pivot_table(index="configuration", columns="nb_enfants", values="foyers", aggfunc="sum", fill_value=0)
    t = t.reindex(index=[c for c in ["isolé", "couple", "monoparent"] if c in t.index],
                  columns=[c for c in ["0", "1", "2", "3+"] if c in t.columns], fill_value=0)
    return t


def portrait_year(data: CafData, ref: Reference, year: int) -> PortraitYear | None:
    t = totals(data, year)
    if t is None:
        return None
    epci, pop_year = ref.epci_year(year)
    population = int(epci.population_municipale.sum())
    return PortraitYear(year, t, totals(data, year - 1), population, pop_year,
                        t.personnes / population if population else float("nan"),
                        share_without_children(data, year), share_without_children(data, year - 1))


def evolution(data: CafData, up_to: int | None = None) -> pd.DataFrame:
    """Département totals by December, up to the report's year (later data are not shown)."""
    rows = []
    for y in data.years():
        if up_to is not None and y > up_to:
            continue
        t = totals(data, y)
        if t is not None:
            rows.append({"annee": y, "foyers": t.foyers, "personnes": t.personnes, "source": t.source})
    return pd.DataFrame(rows)


def benefit_groups(t: Totals, previous: Totals | None) -> pd.DataFrame:
    rows = []
    for label, candidates in BENEFIT_GROUPS:
        col = next((c for c in candidates if c in t.measures and pd.notna(t.measures[c])), None)
        if col is None:
            continue
        prev = previous.measures.get(col) if previous is not None else None
        rows.append({"groupe": label, "mesure": col, "foyers": t.measures[col],
                     "part": t.measures[col] / t.foyers if t.foyers else float("nan"),
                     "variation": (t.measures[col] / prev - 1) if prev else float("nan")})
    return pd.DataFrame(rows)


def coverage_by_epci(data: CafData, ref: Reference, year: int, communes_only: bool = False) -> pd.DataFrame:
    """Foyers, personnes couvertes and coverage rate by EPCI (EPCI file if present, else the sum of its
    communes on the geography of January year+1). `communes_only`: the sum of the communes even when an EPCI
    file is there (the EPCI portraits, whose figures are those sums: their rate and rank on the same rows)."""
    epci, _ = ref.epci_year(year)
    base = epci[["siren", "nom", "population_municipale"]].copy()
    vals = None
    if data.epci is not None and not communes_only:
        f = data.epci.december(year)
        if not f.empty:
            vals = f.rename(columns={"code": "siren"})[["siren", "indfoy_ndur", "indnbp_ndur"]]
    if vals is None and data.com is not None:
        com = communes_year(data, ref, year)
        m = members(ref, year)[["code_commune", "siren_epci"]]
        if not m.empty and not com.empty:
            com = com.merge(m, left_on="code", right_on="code_commune", how="inner")
            vals = com.groupby("siren_epci", as_index=False)[["indfoy_ndur", "indnbp_ndur"]].sum().rename(
                columns={"siren_epci": "siren"})
    if vals is None:
        return pd.DataFrame()
    out = base.merge(vals, on="siren", how="left")
    out["part_habitants_couverts"] = out.indnbp_ndur / out.population_municipale
    return out.sort_values("part_habitants_couverts", ascending=False).reset_index(drop=True)


def index_series(s: DepSeries, base_year: int, up_to: int) -> pd.DataFrame:
    """Index base_year = 100 of each benefit and territory, Decembers base_year..up_to."""
    f = s.between(base_year, up_to).copy()
    base = f[f.annee == base_year].set_index(["prestation", "territoire"]).foyers
    f["indice"] = f.apply(lambda r: 100 * r.foyers / base.get((r.prestation, r.territoire), float("nan")), axis=1)
    return f.sort_values(["prestation", "territoire", "annee"]).reset_index(drop=True)


def couverture_mots(share: float) -> str | None:
    """The share of inhabitants covered, in words that hold for it (Annexe 2 compares them with the
    published text's)."""
    return ("un peu moins de la moitié des habitants" if 0.45 <= share < 0.5 else
            "plus de quatre habitants sur dix" if 0.4 <= share < 0.45 else
            "un peu plus de la moitié des habitants" if 0.5 <= share < 0.6 else
            "plus de trois habitants sur dix" if 0.3 <= share < 0.4 else None)
