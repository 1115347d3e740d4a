"""CTG indicators, computed at 31 December of the report's year."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.data.reference import Reference, epci_sort_key
from helpers.data.registers import Registers
from helpers.indicators import end_of_year


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
