"""Indicators, computed at 31 December of the report's year. Pure functions on checked frames."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from .cafdata import BENEFIT_GROUPS, CafData, Totals, communes_year, totals
from .reference import Reference, epci_sort_key
from .registers import Registers


def end_of_year(year: int) -> pd.Timestamp:
    return pd.Timestamp(year, 12, 31)


# ---------------------------------------------------------------- CTG

def ctg_in_force(ctg: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Conventions signed by `at` whose period covers `at` (both ends included)."""
    return ctg[(ctg.date_signature <= at) & (ctg.date_debut <= at) & (ctg.date_fin >= at)]


@dataclass(frozen=True)
class CtgYear:
    year: int
    n_epci: int
    covered: frozenset[str]
    signed: pd.DataFrame  # CTG signed during the year
    new: pd.DataFrame  # of which the first CTG of their EPCI
    ending: pd.DataFrame  # conventions whose period ends during the year
    population_covered: int
    population_total: int
    population_year: int  # year in force of the legal populations used
    status: pd.DataFrame  # one row per EPCI: siren, nom, population, statut, ...

    @property
    def share_covered(self) -> float:
        return self.population_covered / self.population_total if self.population_total else float("nan")


STATUS_SIGNED = "CTG signée dans l’année"
STATUS_BEFORE = "CTG signée auparavant"
STATUS_NONE = "non couvert"
STATUS_ORDER = [STATUS_BEFORE, STATUS_SIGNED, STATUS_NONE]


def ctg_year(reg: Registers, ref: Reference, year: int) -> CtgYear:
    at = end_of_year(year)
    start = pd.Timestamp(year, 1, 1)
    ctg = reg.ctg
    force = ctg_in_force(ctg, at)
    covered = frozenset(force.siren_epci)
    signed = ctg[(ctg.date_signature >= start) & (ctg.date_signature <= at)]
    first_sign = ctg.groupby("siren_epci").date_signature.transform("min")
    new = signed[signed.date_signature == first_sign.loc[signed.index]]
    ending = ctg[(ctg.date_fin >= start) & (ctg.date_fin <= at)]
    epci, pop_year = ref.epci_year(year)
    st = epci[["siren", "nom", "type", "population_municipale"]].copy()
    signed_force = set(force[force.date_signature >= start].siren_epci)

    def status(s):
        if s not in covered:
            return STATUS_NONE
        return STATUS_SIGNED if s in signed_force else STATUS_BEFORE

    st["statut"] = st.siren.map(status)
    cur = force.sort_values("date_signature").groupby("siren_epci").last()
    st["date_signature"] = st.siren.map(cur.date_signature)
    st["date_fin"] = st.siren.map(cur.date_fin)
    st["themes"] = st.siren.map(cur.themes)
    st = st.sort_values(["statut", "nom"], key=lambda c: c.map(STATUS_ORDER.index) if c.name == "statut"
                        else c.map(epci_sort_key))
    pop_cov = int(st.loc[st.statut != STATUS_NONE, "population_municipale"].sum())
    return CtgYear(year, len(st), covered & set(st.siren), signed, new, ending, pop_cov,
                   int(st.population_municipale.sum()), pop_year, st.reset_index(drop=True))


# ---------------------------------------------------------------- cooperation

def posts_active(postes: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Posts started by `at` and not ended before it (an empty end date: still open)."""
    return postes[(postes.date_debut <= at) & (postes.date_fin.isna() | (postes.date_fin >= at))]


@dataclass(frozen=True)
class CoopYear:
    year: int
    posts: pd.DataFrame
    professionals: int
    fte: float
    caf_funding: float
    local_funding: float
    by_type: pd.DataFrame
    by_epci: pd.DataFrame
    meetings: pd.DataFrame
    meetings_with_managers_and_elected: int


def coop_year(reg: Registers, ref: Reference, year: int) -> CoopYear:
    at = end_of_year(year)
    act = posts_active(reg.postes, at)
    by_type = (act.groupby("type_poste").agg(postes=("id_poste", "count"), etp=("etp", "sum"),
                                             financement_caf=("financement_caf", "sum"),
                                             financement_collectivites=("financement_collectivites", "sum"))
               .reindex(["coopération", "thématique", "infra-territorial"]).fillna(0).reset_index())
    epci, _ = ref.epci_year(year)
    by_epci = (act.groupby("siren_epci").agg(postes=("id_poste", "count"), etp=("etp", "sum"),
                                             financement_caf=("financement_caf", "sum"))
               .reset_index().rename(columns={"siren_epci": "siren"}))
    by_epci = epci[["siren", "nom", "population_municipale"]].merge(by_epci, on="siren", how="left").fillna(
        {"postes": 0, "etp": 0.0, "financement_caf": 0.0})
    by_epci["etp_10000_hab"] = by_epci.etp / by_epci.population_municipale * 10_000
    by_epci = by_epci.sort_values("etp", ascending=False).reset_index(drop=True)
    meet = reg.reunions[reg.reunions.date.dt.year == year].sort_values("date")
    wide = meet.audiences.map(lambda a: "responsables hiérarchiques" in a and "élus" in a)
    return CoopYear(year, act, int(len(act)), float(act.etp.sum()), float(act.financement_caf.sum()),
                    float(act.financement_collectivites.sum()), by_type, by_epci, meet.reset_index(drop=True),
                    int(wide.sum()))


# ---------------------------------------------------------------- portrait

@dataclass(frozen=True)
class PortraitYear:
    year: int
    totals: Totals
    previous: Totals | None
    population: int
    population_year: int
    share_covered: float  # personnes couvertes / population
    share_without_children: float | None
    share_without_children_previous: float | None


def share_without_children(data: CafData, year: int) -> float | None:
    if data.family is None:
        return None
    f = data.family.frame[data.family.frame.dtreffre == f"{year}-12"]
    if f.empty or f.foyers.sum() == 0:
        return None
    return float(f.loc[f.nb_enfants == "0", "foyers"].sum() / f.foyers.sum())


def family_table(data: CafData, year: int) -> pd.DataFrame | None:
    if data.family is None:
        return None
    f = data.family.frame[data.family.frame.dtreffre == f"{year}-12"]
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


def coverage_by_epci(data: CafData, ref: Reference, year: int) -> pd.DataFrame:
    """Foyers, personnes couvertes and coverage rate by EPCI (EPCI file if present, else the
    sum of its communes on the geography of January year+1)."""
    epci, _ = ref.epci_year(year)
    base = epci[["siren", "nom", "population_municipale"]].copy()
    vals = None
    if data.epci is not None:
        f = data.epci.frame[data.epci.frame.dtreffre == f"{year}-12"]
        if not f.empty:
            vals = f.rename(columns={"code": "siren"})[["siren", "indfoy_ndur", "indnbp_ndur"]]
    if vals is None and data.com is not None:
        com = communes_year(data, ref, year)
        comp = ref.communes
        if not comp.empty and not com.empty:
            years = sorted(comp.annee_vigueur.unique())
            near = min(years, key=lambda y: abs(y - (year + 1)))
            m = comp[comp.annee_vigueur == near][["code_commune", "siren_epci"]]
            com = com.merge(m, left_on="code", right_on="code_commune", how="inner")
            vals = com.groupby("siren_epci", as_index=False)[["indfoy_ndur", "indnbp_ndur"]].sum().rename(
                columns={"siren_epci": "siren"})
    if vals is None:
        return pd.DataFrame()
    out = base.merge(vals, on="siren", how="left")
    out["taux_couverture"] = out.indnbp_ndur / out.population_municipale
    return out.sort_values("taux_couverture", ascending=False).reset_index(drop=True)
