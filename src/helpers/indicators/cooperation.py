"""Cooperation indicators: posts in progress at 31 December, the network's meetings."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from helpers.data.reference import Reference
from helpers.data.registers import Registers
from helpers.indicators import end_of_year


def posts_active(postes: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Posts started by `at` and not ended before it (an empty end date: still open)."""
    return postes[(postes.date_debut <= at) & (postes.date_fin.isna() | (postes.date_fin >= at))]


@dataclass(frozen=True)
class CoopYear:
    """The posts in progress at 31 December. The parts that read something else (the legal
    populations for the EPCI table, the meetings register) are computed when asked, so that a figure
    or table built from the posts alone reads (and cites) the posts register alone."""

    year: int
    posts: pd.DataFrame
    professionals: int
    fte: float
    caf_funding: float
    local_funding: float
    by_type: pd.DataFrame
    reg: Registers = field(repr=False, compare=False)
    ref: Reference = field(repr=False, compare=False)

    @property
    def by_epci(self) -> pd.DataFrame:
        """Posts, FTE and Caf funding by EPCI, with FTE per 10 000 inhabitants (legal populations)."""
        epci, _ = self.ref.epci_year(self.year)
        by_epci = (self.posts.groupby("siren_epci").agg(postes=("id_poste", "count"), etp=("etp", "sum"),
                                                        financement_caf=("financement_caf", "sum"))
                   .reset_index().rename(columns={"siren_epci": "siren"}))
        by_epci = epci[["siren", "nom", "population_municipale"]].merge(by_epci, on="siren", how="left").fillna(
            {"postes": 0, "etp": 0.0, "financement_caf": 0.0})
        by_epci["etp_10000_hab"] = by_epci.etp / by_epci.population_municipale * 10_000
        return by_epci.sort_values("etp", ascending=False).reset_index(drop=True)

    @property
    def meetings(self) -> pd.DataFrame:
        return meetings(self.reg, self.year)

    @property
    def meetings_with_managers_and_elected(self) -> int:
        return with_managers_and_elected(self.meetings)


def with_managers_and_elected(meetings: pd.DataFrame) -> int:
    """The meetings open to line managers and elected officials."""
    return int(meetings.audiences.map(lambda a: "responsables hiérarchiques" in a and "élus" in a).sum())


def meetings(reg: Registers, year: int) -> pd.DataFrame:
    """The network's meetings of the year, by date."""
    meet = reg.lignes("reunions", lambda f: f.date.dt.year == year)  # these rows alone: their marks, their source
    return meet.sort_values("date").reset_index(drop=True)


def coop_year(reg: Registers, ref: Reference, year: int) -> CoopYear:
    at = end_of_year(year)
    act = posts_active(reg.postes, at)
    by_type = (act.groupby("type_poste").agg(postes=("id_poste", "count"), etp=("etp", "sum"),
                                             financement_caf=("financement_caf", "sum"),
                                             financement_collectivites=("financement_collectivites", "sum"))
               .reindex(["coopération", "thématique", "infra-territorial"]).fillna(0).reset_index())
    return CoopYear(year, act, int(len(act)), float(act.etp.sum()), float(act.financement_caf.sum()),
                    float(act.financement_collectivites.sum()), by_type, reg, ref)
