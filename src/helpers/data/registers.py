"""The Caf's registers: conventions territoriales globales, cooperation posts and network
meetings (data/registers/*.csv, `;`, UTF-8). Each is checked on load against its schema and
against the EPCI of the département."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from helpers import lineage
from helpers.data.schemas import date_col, num_col, read_text_csv, text_col, to_date, to_number, validate
from helpers.errors import DataError, Problem, display_path

THEMES = [
    "petite enfance",
    "jeunesse",
    "soutien à la parentalité",
    "animation de la vie sociale",
    "accès aux droits et inclusion numérique",
    "logement",
    "handicap",
]
POST_TYPES = ["coopération", "thématique", "infra-territorial"]
AUDIENCES = ["chargés de coopération", "responsables hiérarchiques", "élus"]
SEP = "|"

FILES = {"ctg": "ctg.csv", "postes": "postes_cooperation.csv", "reunions": "reunions_reseau.csv"}

CTG_SCHEMA = pa.DataFrameSchema({
    "id_ctg": text_col(),
    "siren_epci": text_col(r"^[0-9]{9}$", "SIREN invalide (9 chiffres attendus)"),
    "date_signature": date_col(),
    "date_debut": date_col(),
    "date_fin": date_col(),
    "thematiques": text_col(),
    "source": text_col(),
})

POSTES_SCHEMA = pa.DataFrameSchema({
    "id_poste": text_col(),
    "siren_epci": text_col(r"^[0-9]{9}$", "SIREN invalide (9 chiffres attendus)"),
    "type_poste": text_col(isin=POST_TYPES),
    "etp": num_col(),
    "financement_caf": num_col(amount=True),
    "financement_collectivites": num_col(amount=True),
    "date_debut": date_col(),
    "date_fin": date_col(nullable=True),
    "source": text_col(),
})

REUNIONS_SCHEMA = pa.DataFrameSchema({
    "date": date_col(),
    "type": text_col(),
    "publics": text_col(),
    "intitule": text_col(),
    "source": text_col(),
})


def _split(v: str) -> list[str]:
    return [x.strip() for x in str(v).split(SEP) if x.strip()]


def _lists(s: pd.Series) -> pd.Series:
    """The `|`-separated values of each cell, as lists: an object column even when the register has no
    row (a text column then, and whatever is computed from it, would be text too)."""
    return pd.Series([_split(v) for v in s], index=s.index, dtype=object)


def _check_common(df: pd.DataFrame, path: Path, sirens: set[str] | None, id_col: str | None) -> list[Problem]:
    label = display_path(path)
    problems: list[Problem] = []
    if id_col and id_col in df.columns:
        dup = df[id_col].duplicated(keep="first") & df[id_col].notna()
        for i in df.index[dup]:
            first = int(df.index[df[id_col] == df.at[i, id_col]][0]) + 2
            problems.append(Problem(label, f"identifiant en double « {df.at[i, id_col]} » (déjà ligne {first})",
                                    i + 2, id_col))
    if sirens is not None and "siren_epci" in df.columns:
        for i, v in df.siren_epci.items():
            if isinstance(v, str) and len(v) == 9 and v.isdigit() and v not in sirens:
                problems.append(Problem(label, f"SIREN inconnu « {v} » : ce n’est pas un EPCI du département "
                                               "(voir data/reference/epci.csv)", i + 2, "siren_epci"))
    return problems


def _order(df: pd.DataFrame, path: Path, first: str, second: str, what: str) -> list[Problem]:
    a, b = to_date(df[first]), to_date(df[second])
    bad = (b < a).fillna(False)
    return [Problem(display_path(path), f"{what} ({df.at[i, second]}) antérieure à {df.at[i, first]} ({first})",
                    i + 2, second) for i in df.index[bad]]


REGISTER_NAMES = {"ctg": "registre des conventions territoriales globales", "postes": "registre des postes de "
                  "coopération", "reunions": "registre des rencontres du réseau"}


@dataclass
class Registers:
    ctg: pd.DataFrame
    postes: pd.DataFrame
    reunions: pd.DataFrame
    files: tuple[Path, ...]
    periode: str = ""  # the state of the registers a report reads (« au 31 décembre 2023 »), for its source lines

    def __getattribute__(self, name: str):
        # a register read by a figure or a table is named in its source line
        if name in REGISTER_NAMES:
            d = object.__getattribute__(self, "__dict__")
            lineage.record(lineage.Lu("registre", "Caf", REGISTER_NAMES[name], periode=d.get("periode", ""),
                                      illustratif=_illustrative(d[name])))
        return object.__getattribute__(self, name)

    @property
    def illustrative(self) -> dict[str, bool]:
        return {name: _illustrative(self.__dict__[name]) for name in REGISTER_NAMES}


def _illustrative(df: pd.DataFrame) -> bool:
    return bool(df.source.str.strip().str.lower().str.startswith("illustratif").any()) if not df.empty else False


def load_registers(folder: Path, sirens: set[str] | None) -> Registers:
    """Read and check the three registers; all problems of all files are reported together."""
    folder = Path(folder)
    problems: list[Problem] = []
    frames: dict[str, pd.DataFrame] = {}
    files = []
    for key, name in FILES.items():
        path = folder / name
        files.append(path)
        try:
            frames[key] = read_text_csv(path)
        except DataError as exc:
            problems += exc.problems
    if problems:
        raise DataError(problems)

    ctg, postes, reunions = frames["ctg"], frames["postes"], frames["reunions"]
    p_ctg = folder / FILES["ctg"]
    problems += validate(ctg, CTG_SCHEMA, p_ctg)
    problems += _check_common(ctg, p_ctg, sirens, "id_ctg")
    if {"date_debut", "date_fin", "date_signature"} <= set(ctg.columns):
        problems += _order(ctg, p_ctg, "date_debut", "date_fin", "date de fin")
    if "thematiques" in ctg.columns:
        for i, v in ctg.thematiques.items():
            for t in _split(v) if isinstance(v, str) else []:
                if t not in THEMES:
                    problems.append(Problem(display_path(p_ctg), f"thématique inconnue « {t} » (thématiques "
                                            f"permises : {', '.join(THEMES)} ; séparées par « {SEP} »)", i + 2,
                                            "thematiques"))

    p_postes = folder / FILES["postes"]
    problems += validate(postes, POSTES_SCHEMA, p_postes)
    problems += _check_common(postes, p_postes, sirens, "id_poste")
    if {"date_debut", "date_fin"} <= set(postes.columns):
        problems += _order(postes, p_postes, "date_debut", "date_fin", "date de fin")
    if "etp" in postes.columns:
        over = (to_number(postes.etp) > 1).fillna(False)
        for i in postes.index[over]:
            problems.append(Problem(display_path(p_postes), f"un poste ne peut dépasser 1 ETP (valeur « {postes.at[i, 'etp']} »)",
                                    i + 2, "etp"))

    p_reu = folder / FILES["reunions"]
    problems += validate(reunions, REUNIONS_SCHEMA, p_reu)
    if "publics" in reunions.columns:
        for i, v in reunions.publics.items():
            for t in _split(v) if isinstance(v, str) else []:
                if t not in AUDIENCES:
                    problems.append(Problem(display_path(p_reu), f"public inconnu « {t} » (publics permis : "
                                            f"{', '.join(AUDIENCES)} ; séparés par « {SEP} »)", i + 2, "publics"))
    if problems:
        problems.sort(key=lambda p: (p.file, p.row or 0))
        raise DataError(problems)

    ctg = ctg.copy()
    for c in ("date_signature", "date_debut", "date_fin"):
        ctg[c] = to_date(ctg[c])
    ctg["themes"] = _lists(ctg.thematiques)
    postes = postes.copy()
    for c in ("date_debut", "date_fin"):
        postes[c] = to_date(postes[c])
    for c in ("etp", "financement_caf", "financement_collectivites"):
        postes[c] = to_number(postes[c])
    reunions = reunions.copy()
    reunions["date"] = to_date(reunions["date"])
    reunions["audiences"] = _lists(reunions.publics)
    return Registers(ctg, postes, reunions, tuple(files))
