"""Cooperation indicators: posts in progress at 31 December, the network's meetings."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.data.reference import Reference
from helpers.data.registers import Registers
from helpers.indicators import end_of_year


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
