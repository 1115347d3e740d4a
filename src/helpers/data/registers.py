"""The Caf's registers: conventions territoriales globales, cooperation posts and network
meetings (data/registers/*.csv, `;`, UTF-8). Each is checked on load against its schema and
against the EPCI of the département."""
from __future__ import annotations

from dataclasses import dataclass, field
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

FILES = {"ctg": "ctg.csv", "postes": "postes_cooperation.csv", "reunions": "reunions_reseau.csv",
         "evenements": "evenements.csv"}
OPTIONAL = {"evenements"}  # a département without it has no event to tell, and no sentence about one

# Facts about events that the report's prose tells (never typed into it): what each type means is
# written in the chapter that tells it; a report states an event only for a year where it has happened.
EVENT_TYPES = ["fin_cej", "creation_reseau", "portrait_social"]

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


EVENEMENTS_SCHEMA = pa.DataFrameSchema({
    "date": date_col(),
    "type": text_col(isin=EVENT_TYPES),
    "edition": text_col(r"^\d{4}$", "année d’édition invalide (AAAA attendu)", nullable=True),
    "url": text_col(r"^https://\S+$", "adresse invalide (https://… attendu)", nullable=True),
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


DATE_COLUMNS = {"ctg": "date_signature", "postes": "date_debut", "reunions": "date", "evenements": "date"}
REGISTER_NAMES = {"ctg": "registre des conventions territoriales globales", "postes": "registre des postes de "
                  "coopération", "reunions": "registre des rencontres du réseau",
                  "evenements": "registre des événements"}


@dataclass
class Registers:
    ctg: pd.DataFrame
    postes: pd.DataFrame
    reunions: pd.DataFrame
    files: tuple[Path, ...]
    evenements: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"date": pd.Series(dtype="datetime64[ns]"), **{c: pd.Series(dtype=object) for c in
                                                      ("type", "edition", "url", "source")}}))
    periode: str = ""  # the state of the registers a report reads (« au 31 décembre 2023 »), for its source lines
    limite: pd.Timestamp | None = None  # the report's observation date: later rows are not part of its state

    def __getattribute__(self, name: str):
        # a register read by a figure or a table is named in its source line, illustrative when a row of
        # the state it reads (the rows dated up to the observation date) is
        if name in REGISTER_NAMES:
            d = object.__getattribute__(self, "__dict__")
            frame, limit = d[name], d.get("limite")
            if limit is not None and not frame.empty:
                frame = frame[frame[DATE_COLUMNS[name]] <= limit]
            self._record(name, frame)
        return object.__getattribute__(self, name)

    def _record(self, name: str, rows: pd.DataFrame) -> None:
        lineage.record(lineage.Lu("registre", "Caf", REGISTER_NAMES[name],
                                  periode=object.__getattribute__(self, "periode"), illustratif=_illustrative(rows)))

    def lignes(self, name: str, keep=None) -> pd.DataFrame:
        """The rows of a register that a value reads (`keep`: frame -> boolean mask), recorded as such:
        a figure built from public rows alone is not marked because other rows are illustrative."""
        frame = object.__getattribute__(self, "__dict__")[name]
        rows = frame if keep is None or frame.empty else frame[keep(frame)]
        self._record(name, rows)
        return rows

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
        if key in OPTIONAL and not path.exists():
            continue
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
    evenements = frames.get("evenements")
    if evenements is not None:
        p_ev = folder / FILES["evenements"]
        problems += validate(evenements, EVENEMENTS_SCHEMA, p_ev)
        if {"type", "edition", "url"} <= set(evenements.columns):
            for i, r in evenements.iterrows():
                if r["type"] == "portrait_social" and (pd.isna(r["edition"]) or pd.isna(r["url"])):
                    problems.append(Problem(display_path(p_ev), "un « portrait_social » a une édition et une "
                                            "adresse (colonnes edition et url)", i + 2,
                                            "edition" if pd.isna(r["edition"]) else "url"))
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
    extra = {}
    if evenements is not None:
        evenements = evenements.copy()
        evenements["date"] = to_date(evenements["date"])
        extra["evenements"] = evenements
    return Registers(ctg, postes, reunions, tuple(files), **extra)
