"""CTG indicators, computed at 31 December of the report's year."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from helpers.data.reference import Reference, epci_sort_key
from helpers.data.registers import Registers
from helpers.indicators import end_of_year


def ctg_in_force(ctg: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Conventions signed by `at` whose period covers `at` (both ends included)."""
    return ctg[(ctg.date_signature <= at) & (ctg.date_debut <= at) & (ctg.date_fin >= at)]


@dataclass(frozen=True)
class CtgYear:
    """The conventions at 31 December. What reads the legal populations (the share of inhabitants
    covered, the status table with populations) is computed when asked, so that the timeline or the
    themes, built from the register alone, read (and cite) the register alone."""

    year: int
    n_epci: int
    covered: frozenset[str]
    signed: pd.DataFrame  # CTG signed during the year
    new: pd.DataFrame  # of which the first CTG of their EPCI
    ending: pd.DataFrame  # conventions whose period ends during the year
    status: pd.DataFrame  # one row per EPCI: siren, nom, type, statut, dates, themes
    ref: Reference = field(repr=False, compare=False)

    def with_populations(self) -> tuple[pd.DataFrame, int]:
        """The status table with each EPCI's legal population, and the year in force used."""
        epci, used = self.ref.epci_year(self.year)
        st = self.status.merge(epci[["siren", "population_municipale"]], on="siren", how="left")
        st["population_municipale"] = st.population_municipale.fillna(0).astype(int)
        return st, used

    @property
    def population_year(self) -> int:  # year in force of the legal populations used
        return self.with_populations()[1]

    @property
    def population_covered(self) -> int:
        st, _ = self.with_populations()
        return int(st.loc[st.statut != STATUS_NONE, "population_municipale"].sum())

    @property
    def population_total(self) -> int:
        return int(self.with_populations()[0].population_municipale.sum())

    @property
    def part_habitants_ctg(self) -> float:
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
    st = ref.epci_names(year).copy()
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
    return CtgYear(year, len(st), covered & set(st.siren), signed, new, ending, st.reset_index(drop=True), ref)
