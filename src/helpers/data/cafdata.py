"""Cafdata open data, read exactly as data.caf.fr exports it (Opendatasoft API v2.1, CSV).

Datasets: `s_ben_dep` (département, monthly, exact), `s_ben_epci_f` and `s_ben_com_f` (EPCI and
commune, Decembers from 2020, counts rounded to 5). Layout: UTF-8 with or without BOM, `;`,
header = field names, `dtreffre` as `YYYY-MM`, measures `ind{foy,nbp,mtt,ben}_<benefit>`.

Traps handled: counts published as floats (`37793.0`) or as text; an empty `numcomdo` for
non-localised allocataires (kept in totals, left out of maps); duplicated technical rows;
communes merged since (old codes folded into the current commune); December N is located on
the geography of January N+1.

The Caf's internal extract of family configurations (not in open data) is read here too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from helpers import lineage
from helpers.data.reference import Reference, fold_codes
from helpers.data.schemas import RE_MONTH, read_text_csv, stream_text_csv, text_col, validate
from helpers.errors import DataError, Problem, display_path

MEASURE_RE = re.compile(r"^ind(foy|nbp|mtt|ben)_[a-z0-9]+$")
# Counts are never negative, whole, in ASCII digits (Python's `\d` and `float()` accept Arabic-Indic digits too);
# the API writes some as floats (`37793.0`): a decimal part is allowed only when it is zero, so that `24.710`
# (a thousands dot) or `12.5` is refused, never read as 24,71 or 12,5. Amounts (`indmtt_`, euros): two decimals.
RE_COUNT = re.compile(r"^[0-9]+(\.0*)?$")
RE_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")
# The commune and EPCI files round every count to a multiple of 5 (secret statistique; a blank is a secret).
ROUNDED_TO_5 = ("s_ben_com_f", "s_ben_epci_f")
RE_COMMUNE = re.compile(r"^([0-9]{5}|2[AB][0-9]{3})$")
RE_MONTH_C = re.compile(RE_MONTH)

# dataset -> (candidate code fields, candidate name fields)
DATASETS = {
    "s_ben_dep": (("numdep", "numdepdo", "dep"), ("nomdep", "libdep")),
    "s_ben_epci_f": (("numepci", "epci", "siren_epci"), ("nomepci", "libepci")),
    "s_ben_com_f": (("numcomdo", "numcom", "codgeo"), ("nomcom", "libcom")),
}

# Benefit groups of the portrait: label -> candidate foyer measures (first present is used).
BENEFIT_GROUPS = [
    ("Aides au logement", ["indfoy_ndural", "indfoy_al"]),
    ("Revenu de solidarité active", ["indfoy_rsa"]),
    ("Prime d’activité", ["indfoy_ppa"]),
    ("Allocations familiales", ["indfoy_af", "indfoy_ndurej"]),
    ("Petite enfance (Paje)", ["indfoy_ndurpaje", "indfoy_paje"]),
    ("Handicap (AAH)", ["indfoy_aah"]),
]

CONFIG_FILE_RE = "configuration_familiale*.csv"
CONFIGURATIONS = ["isolé", "couple", "monoparent"]
ENFANTS = ["0", "1", "2", "3+"]


@dataclass
class Dataset:
    name: str
    path: Path
    frame: pd.DataFrame  # dtreffre (str YYYY-MM), code (str or NA), nom, measures (float)
    measures: list[str]
    duplicates_dropped: int = 0  # identical copies of a row
    technical: list[Dropped] = field(default_factory=list)  # small rows beside the real one
    illustrative: bool = False  # a file of the demo set
    lines: pd.Series | None = None  # the file's line of each row of `frame` (same index), for the checks' messages

    @property
    def rows_dropped(self) -> int:
        return self.duplicates_dropped + len(self.technical)

    def months(self) -> list[str]:
        return sorted(self.frame.dtreffre.unique())

    def lu(self, year: int) -> lineage.Lu:
        return lineage.Lu("cafdata", "Cnaf, Cafdata", self.name, year, illustratif=self.illustrative)

    def december(self, year: int) -> pd.DataFrame:
        """The rows of December `year` (a read of the dataset, for the source lines)."""
        lineage.record(self.lu(year))
        return self.frame[self.frame.dtreffre == december(year)]


def _find(folder: Path, dataset: str) -> Path | None:
    """The one export of `dataset` in `folder`; two candidates (a second download such as
    `s_ben_com_f_17 (1).csv`) are refused rather than one picked by sort order."""
    # `s_ben_epci_f*.csv` must not catch `s_ben_epci_f` when looking for `s_ben_dep`, etc.
    hits = sorted(p for p in Path(folder).glob(f"{dataset}*.csv")
                  if re.match(rf"^{re.escape(dataset)}(?![a-z])", p.name))
    if len(hits) > 1:
        names = ", ".join(f"« {p.name} »" for p in hits)
        raise DataError([Problem(display_path(folder), f"plusieurs fichiers pour le jeu {dataset} ({names}) : "
                                                       "gardez-en un seul dans le dossier")])
    return hits[0] if hits else None


# A row beside another of the same month and code is "technical" (Cafdata exports carry a few
# foyers under the same key as the real row) when it is this small next to the row kept.
TECHNICAL_ABS = 10
TECHNICAL_REL = 0.05
FIRST_YEAR = 2009  # no Cafdata series starts earlier


def _last_year() -> int:
    import datetime as dt

    return dt.date.today().year + 1


def _year_in_range(s: pd.Series) -> pd.Series:
    """Months of a plausible year (a malformed month is reported by the format check)."""
    years = pd.to_numeric(s.str[:4], errors="coerce")
    return ~s.str.match(RE_MONTH) | years.between(FIRST_YEAR, _last_year())


@dataclass(frozen=True)
class Dropped:
    """A technical row left out: month, code and the size it had (reference measure)."""

    month: str
    code: str | None
    line: int
    value: float
    kept: float


def reference_measure(frame: pd.DataFrame, measures: list[str]) -> pd.Series:
    """What "the most complete row" means: foyers with at least one benefit if the file has
    them, else the sum of the foyer measures, else the sum of all measures."""
    if "indfoy_ndur" in measures:
        return frame["indfoy_ndur"].fillna(0)
    foy = [m for m in measures if m.startswith("indfoy_")] or measures
    return frame[foy].fillna(0).sum(axis=1)


def drop_technical_rows(frame: pd.DataFrame, key: list[str], measures: list[str], label: str,
                        column: str) -> tuple[pd.DataFrame, int, list[Dropped]]:
    """Keep, for each key, the most complete row; identical copies and small technical rows are
    dropped and returned; two large rows that disagree are refused with both lines."""
    exact = frame.duplicated(subset=key + measures, keep="first")
    identical = int(exact.sum())
    frame = frame[~exact]
    dup = frame.duplicated(subset=key, keep=False)
    if not dup.any():
        return frame, identical, []
    ref = reference_measure(frame, measures)
    rows = frame[dup].assign(_ref=ref[dup]).sort_values("_ref", ascending=False, kind="stable")
    drop_idx, dropped, problems = [], [], []
    for _, grp in rows.groupby(key, sort=False, dropna=False):
        kept = grp.iloc[0]
        for _, r in grp.iloc[1:].iterrows():
            if r._ref <= max(TECHNICAL_ABS, TECHNICAL_REL * kept._ref):
                drop_idx.append(r.name)
                dropped.append(Dropped(str(r[key[0]]), None if pd.isna(r[key[1]]) else str(r[key[1]]),
                                       int(r._line), float(r._ref), float(kept._ref)))
            else:
                what = " et ".join(f"{k} {r[k]}" for k in key if pd.notna(r[k]))
                a, b = sorted((int(kept._line), int(r._line)))
                problems.append(Problem(label, f"deux lignes pour {what} avec des valeurs différentes, trop grandes "
                                               f"l’une et l’autre pour être une ligne technique (lignes {a} et {b})",
                                        row=int(r._line), column=column))
    if problems:
        raise DataError(problems)
    return frame.drop(index=drop_idx), identical, sorted(dropped, key=lambda d: (d.month, d.code or ""))


RE_SPACES = re.compile(r"[\s\u202f\u00a0]")


def _counts(raw: pd.DataFrame, measures: list[str]) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """The measures as floats (empty = NA: a secret, not zero), and the cells that are not a count (index,
    column, value). A count is ASCII digits with an optional zero decimal part (`37793.0`), spaces allowed
    (`68 110`); an amount (`indmtt_`) may have two decimals."""
    import numpy as np

    block = raw[measures].to_numpy(dtype=object)
    out = np.full(block.shape, np.nan)
    bad = []
    matchers = [(RE_AMOUNT if m.startswith("indmtt_") else RE_COUNT).match for m in measures]
    flat_in, flat_out = block.ravel(), out.ravel()
    width = len(measures)
    for k, x in enumerate(flat_in):
        if not isinstance(x, str):
            continue
        match = matchers[k % width]
        if match(x) is None:
            y = RE_SPACES.sub("", x)
            if match(y) is None:
                i, j = divmod(k, width)
                bad.append((raw.index[i], measures[j], x))
                continue
            x = y
        flat_out[k] = float(x)
    return pd.DataFrame(out, index=raw.index, columns=measures), bad


def _not_rounded(frame: pd.DataFrame, counts: list[str], label: str) -> list[Problem]:
    """Counts of a file rounded to 5 that are not a multiple of 5: not a value Cafdata publishes there."""
    problems = []
    for m in counts:
        v = frame[m]
        bad = v.notna() & (v % 5 != 0)
        for line, x in zip(frame.loc[bad, "_line"], v[bad]):
            problems.append(Problem(label, f"effectif non arrondi à 5 (valeur « {x:.0f} ») : ce fichier publie des "
                                           "effectifs arrondis à un multiple de 5", row=int(line), column=m))
            if len(problems) >= 30:
                return problems
    return sorted(problems, key=lambda p: (p.row or 0, p.column or ""))


def _dep_of_commune(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


def _row_filter(dataset: str, departement: str | None):
    """What a national export's rows go through, streamed (see `stream_text_csv`): the filter, or None to
    keep every row (no département, or the EPCI file, whose codes do not name a département).

    Every row is checked for UTF-8, its number of fields and the format of its month and code: a row whose
    month or code is malformed is kept, so that the cell checks name it (line, column) whatever its
    département. The rows of the département and the non-localised rows (empty commune code) are kept and
    checked cell by cell (counts positive, year in range, duplicates); the counts of other départements'
    rows are not read: they are never used."""
    if not departement or dataset == "s_ben_epci_f":
        return None
    code_fields = DATASETS[dataset][0]
    dep = departement.lstrip("0")
    month_ok = RE_MONTH_C.match
    commune_ok = RE_COMMUNE.match

    def filtre(names: list[str]):
        ci = next((names.index(c) for c in code_fields if c in names), None)
        mi = names.index("dtreffre") if "dtreffre" in names else None
        if ci is None or mi is None:
            return None, 0  # refused as a whole by read_export (missing column): keep everything

        def keep(v: list[str]) -> tuple[bool, str | None]:
            code = v[ci].strip()
            if month_ok(v[mi].strip()) is None:
                return True, None
            if dataset == "s_ben_com_f":
                if not code or commune_ok(code) is None:
                    return True, None  # empty: non-localised (national), kept; malformed: named by the checks
                return code.startswith(departement), (code[:3] if code.startswith("97") else code[:2])
            return code.lstrip("0") == dep, (code or None)

        return keep, max(ci, mi) + 1

    return filtre


def read_export(path: Path, dataset: str, departement: str | None = None) -> Dataset:
    """Read and check one Cafdata CSV export; raise DataError naming file, line and column.

    Streamed (bounded memory, a progress line on a terminal): a national commune export is filtered to the
    département's rows before the cell checks; see `_row_filter` for what is checked on the other rows."""
    label = display_path(path)
    flt = _row_filter(dataset, departement)
    streamed = stream_text_csv(path, sep=";", filtre=flt)
    raw = streamed.frame
    code_fields, name_fields = DATASETS[dataset]
    code_col = next((c for c in code_fields if c in raw.columns), None)
    problems: list[Problem] = []
    if "dtreffre" not in raw.columns:
        problems.append(Problem(label, "colonne obligatoire absente", column="dtreffre"))
    if code_col is None:
        problems.append(Problem(label, "colonne obligatoire absente", column=code_fields[0]))
    measures = [c for c in raw.columns if MEASURE_RE.match(c)]
    if not measures:
        problems.append(Problem(label, "aucune colonne de mesure (ind…_…) : ce n’est pas un export Cafdata"))
    if problems:
        raise DataError(problems)
    if streamed.lines == 0 or (streamed.lines < 0 and raw.empty):
        raise DataError([Problem(label, "le fichier ne contient que l’en-tête, aucune ligne de données")])
    name_col = next((c for c in name_fields if c in raw.columns), None)

    cols = {"dtreffre": pa.Column(str, [
        pa.Check.str_matches(RE_MONTH, error="date de référence invalide (format attendu AAAA-MM)"),
        pa.Check(_year_in_range, error=f"année hors de la période des séries Cafdata ({FIRST_YEAR} à "
                                       f"{_last_year()})")], nullable=False)}
    if dataset == "s_ben_epci_f":
        # empty = allocataires not localised in an EPCI: allowed, kept out of the département's totals
        cols[code_col] = pa.Column(str, pa.Check.str_matches(r"^[0-9]{9}$", error="SIREN d’EPCI invalide (9 chiffres)"),
                                   nullable=True)
    elif dataset == "s_ben_com_f":
        # empty = allocataires not localised in a commune (national): allowed, kept out of the totals
        cols[code_col] = pa.Column(str, pa.Check.str_matches(
            RE_COMMUNE.pattern, error="code commune invalide (5 caractères)"), nullable=True)
    problems = validate(raw, pa.DataFrameSchema(cols), path)
    # Counts: one pass over every cell of the measures (a national export has hundreds of measure columns: a
    # pandera check per column cost seconds), with the same message as the other cell checks.
    values, bad = _counts(raw, measures)
    for i, m, v in bad:
        why = ("un montant a au plus deux décimales" if m.startswith("indmtt_") else
               "un effectif s’écrit en chiffres 0 à 9, sans partie décimale autre que « .0 »")
        problems.append(Problem(label, f"un nombre positif ou nul est attendu (valeur « {v} ») : {why}",
                                row=int(i) + 2, column=m))
    if problems:
        problems.sort(key=lambda p: (p.row or 0, p.column or ""))
        raise DataError(problems)

    frame = pd.concat([pd.DataFrame({
        "dtreffre": raw.dtreffre,
        "code": raw[code_col],
        "nom": raw[name_col] if name_col else pd.NA,
        "_line": raw.index + 2,
    }, index=raw.index), values], axis=1)

    if frame.empty and not (departement and dataset in ("s_ben_com_f", "s_ben_dep")):
        raise DataError([Problem(label, "aucune ligne de données (le fichier n’a que son en-tête)")])
    if departement and dataset in ("s_ben_com_f", "s_ben_dep"):
        if dataset == "s_ben_com_f":
            ours = frame.code.notna() & frame.code.str.startswith(departement)
            keep = ours | frame.code.isna()  # non-localised rows: kept with the département's own rows
            found = frame.code.dropna().map(_dep_of_commune)
        else:
            ours = keep = (frame.code.str.lstrip("0") == departement.lstrip("0")).fillna(False).astype(bool)
            found = frame.code.dropna()
        if not ours.any():
            present = sorted(set(found) | streamed.seen)
            raise DataError([Problem(label, f"aucune ligne pour le département {departement} ("
                                     + ("départements présents" if len(present) > 1 else "département présent")
                                     + f" dans le fichier : {', '.join(present) or 'aucun'})", column=code_col)])
        frame = frame[keep]

    frame, identical, technical = drop_technical_rows(frame, ["dtreffre", "code"], measures, label, code_col)
    if dataset in ROUNDED_TO_5:  # the rows kept (a technical row left out is never summed)
        problems = _not_rounded(frame, [m for m in measures if not m.startswith("indmtt_")], label)
        if problems:
            raise DataError(problems)
    if dataset == "s_ben_com_f":
        frame = fold_arrondissements(frame, measures)
    frame = frame.reset_index(drop=True)
    return Dataset(dataset, Path(path), frame.drop(columns="_line"), measures, identical, technical,
                   lines=frame["_line"])


# Municipal arrondissements (COG): Paris 75101-75120, Marseille 13201-13216, Lyon 69381-69389
RE_ARRONDISSEMENT = re.compile(r"^(751(?:0[1-9]|1\d|20)|132(?:0[1-9]|1[0-6])|6938[1-9])$")
ARRONDISSEMENT_COMMUNES = {"751": ("75056", "Paris"), "132": ("13055", "Marseille"), "693": ("69123", "Lyon")}


def commune_of_arrondissement(code: str) -> str | None:
    """The commune (75056, 13055, 69123) of a municipal arrondissement code, else None."""
    if isinstance(code, str) and RE_ARRONDISSEMENT.match(code):
        return ARRONDISSEMENT_COMMUNES[code[:3]][0]
    return None


def fold_arrondissements(frame: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Paris, Marseille and Lyon once per month: a genuine export has one row per arrondissement,
    summed here into the commune; where the commune's own row is also there (a re-laid file), it
    is their sum already and the arrondissement rows are dropped, never added to it."""
    arr = frame.code.map(commune_of_arrondissement)
    if arr.isna().all():
        return frame
    parts = frame[arr.notna()].assign(code=arr[arr.notna()])
    whole = set(zip(frame.dtreffre, frame.code))
    parts = parts[[(m, c) not in whole for m, c in zip(parts.dtreffre, parts.code)]]
    summed = parts.groupby(["dtreffre", "code"], as_index=False)[measures].sum(min_count=1)
    summed["nom"] = summed.code.map({c: n for c, n in ARRONDISSEMENT_COMMUNES.values()})
    out = pd.concat([frame[arr.isna()], summed], ignore_index=True)[list(frame.columns)]
    return out.sort_values(["dtreffre", "code"], kind="stable", na_position="first").reset_index(drop=True)


@dataclass
class FamilyConfig:
    path: Path
    frame: pd.DataFrame  # dtreffre, configuration, nb_enfants, foyers
    illustrative: bool = False  # an illustrative extract (marker file ILLUSTRATIF beside it, or the demo)

    def december(self, year: int) -> pd.DataFrame:
        """The rows of December `year` (a read of the extract, for the source lines)."""
        lineage.record(lineage.Lu("extrait", "Caf", "extrait interne des configurations familiales", year,
                                  illustratif=self.illustrative))
        return self.frame[self.frame.dtreffre == december(year)]


CONFIG_SCHEMA_COLS = {
    "dtreffre": pa.Column(str, pa.Check.str_matches(RE_MONTH, error="date de référence invalide (AAAA-MM)")),
    "configuration": text_col(isin=CONFIGURATIONS),
    "nb_enfants": text_col(isin=ENFANTS),
    "foyers": pa.Column(str, pa.Check.str_matches(r"^[0-9]+(\.0+)?$", error="un nombre entier positif est attendu")),
}


def read_family_config(path: Path, departement: str | None = None) -> FamilyConfig:
    """The Caf's internal extract: foyers allocataires by family configuration.

    Layout (`;`, UTF-8): dtreffre (YYYY-MM); numdep; configuration (isolé, couple, monoparent);
    nb_enfants (0, 1, 2, 3+); foyers (count). One row per month, configuration and number of children.
    """
    raw = read_text_csv(path)
    cols = dict(CONFIG_SCHEMA_COLS)
    cols["numdep"] = text_col(r"^([0-9]{2}|2A|2B|97[0-9])$", "code de département invalide")
    schema = pa.DataFrameSchema(cols, unique=["dtreffre", "numdep", "configuration", "nb_enfants"],
                                report_duplicates="all")
    problems = validate(raw, schema, path)
    # A single parent has at least one child.
    bad = raw[(raw.get("configuration") == "monoparent") & (raw.get("nb_enfants") == "0")] \
        if {"configuration", "nb_enfants"} <= set(raw.columns) else raw.iloc[0:0]
    for i in bad.index:
        problems.append(Problem(display_path(path), "un foyer monoparental a au moins un enfant", row=i + 2,
                                column="nb_enfants"))
    if problems:
        raise DataError(problems)
    frame = raw.copy()
    if departement:
        frame = frame[frame.numdep == departement]
    frame["foyers"] = pd.to_numeric(frame.foyers).astype(float)
    illustrative = any((Path(path).parent / m).is_file() for m in ("ILLUSTRATIF", "DEMONSTRATION"))
    return FamilyConfig(Path(path), frame.reset_index(drop=True), illustrative)


@dataclass
class CafData:
    """The Cafdata exports found in one folder, for one département."""

    folder: Path
    departement: str
    dep: Dataset | None = None
    epci: Dataset | None = None
    com: Dataset | None = None
    family: FamilyConfig | None = None
    illustrative: bool = False

    @property
    def files(self) -> list[Path]:
        out = [d.path for d in (self.dep, self.epci, self.com) if d is not None]
        if self.family:
            out.append(self.family.path)
        return out

    def years(self) -> list[int]:
        """Years whose December is present in the data the département totals come from."""
        ys: set[int] = set()
        for d in (self.dep, self.com):
            if d is not None:
                ys |= {int(m[:4]) for m in d.months() if m.endswith("-12")}
        return sorted(ys)


def load_cafdata(folder: Path, departement: str, extraits: Path | None = None) -> CafData:
    """The exports of `folder` for the département; the family-configuration extract from the
    same folder (the demo has one) or from the Caf's extracts folder `extraits`."""
    folder = Path(folder)
    label = display_path(folder)
    if not folder.is_dir():
        raise DataError([Problem(label, "dossier de données Cafdata introuvable")])
    data = CafData(folder, departement)
    data.illustrative = (folder / "DEMONSTRATION").is_file()
    for name in DATASETS:
        p = _find(folder, name)
        if p is not None:
            try:
                ds = read_export(p, name, departement)
            except DataError as exc:
                if not data.illustrative:
                    raise
                raise DataError(exc.problems + [Problem(label, "c’est le jeu de démonstration, qui ne décrit que la "
                                "Charente-Maritime (17) : pour un autre département, télécharger ses exports avec "
                                f"« rapport fetch --year ANNÉE --departement {departement} »")]) from None
            ds.illustrative = data.illustrative
            setattr(data, {"s_ben_dep": "dep", "s_ben_epci_f": "epci", "s_ben_com_f": "com"}[name], ds)
    if data.dep is None and data.com is None:
        raise DataError([Problem(label, "aucun export Cafdata s_ben_dep ou s_ben_com_f trouvé "
                                        "(fichiers attendus : s_ben_dep*.csv, s_ben_com_f*.csv)")])
    fam = sorted(folder.glob(CONFIG_FILE_RE)) or (sorted(Path(extraits).glob(CONFIG_FILE_RE)) if extraits else [])
    if len(fam) > 1:
        raise DataError([Problem(display_path(fam[0].parent), "plusieurs extraits de configurations familiales ("
                                 + ", ".join(f"« {f.name} »" for f in fam) + ") : gardez-en un seul")])
    if fam:
        data.family = read_family_config(fam[0], departement)
        data.family.illustrative |= data.illustrative
    if data.com is not None and data.com.frame.empty and data.dep is not None and data.dep.frame.empty:
        raise DataError([Problem(label, f"aucune ligne pour le département {departement}")])
    return data


def december(year: int) -> str:
    return f"{year}-12"


@dataclass(frozen=True)
class Totals:
    year: int
    foyers: float
    personnes: float
    measures: dict[str, float]
    source: str  # dataset used
    rounded: bool  # True when summed from counts rounded to 5
    n_rows: int = 0  # rows summed (communes): each may be off by 2,5 at most

    @property
    def rounding_bound(self) -> float:
        """The largest gap that rounding each summed count to 5 can make."""
        return 2.5 * self.n_rows


def totals(data: CafData, year: int) -> Totals | None:
    """Département totals for December of `year`: exact from s_ben_dep if present, else the sum
    of the commune rows, whose counts are rounded to 5. Rows with an empty commune code are
    allocataires not localised in any commune (one row for all of France): not the département's."""
    month = december(year)
    for ds, rounded in ((data.dep, False), (data.com, True)):
        if ds is None:
            continue
        rows = ds.frame[(ds.frame.dtreffre == month) & ds.frame.code.notna()]
        if not rows.empty:
            lineage.record(ds.lu(year))
            sums = rows[ds.measures].sum(min_count=1)
            return Totals(year, sums.get("indfoy_ndur", float("nan")), sums.get("indnbp_ndur", float("nan")),
                          sums.to_dict(), ds.name, rounded, len(rows) if rounded else 0)
    return None


def communes_year(data: CafData, ref: Reference, year: int) -> pd.DataFrame:
    """Commune rows of December `year`, localised only, on the geography of 1 January year+1
    (or the reference's later one, see Reference.geography; old codes folded into the commune they were merged into, values summed)."""
    if data.com is None:
        return pd.DataFrame(columns=["code", *([] if data.com is None else data.com.measures)])
    df = data.com.december(year)
    df = df[df.code.notna()].copy()
    df["code"] = fold_codes(df.code, ref.fusions, ref.geography(year))
    return df.groupby("code", as_index=False)[data.com.measures].sum(min_count=1)


# A département's foyers move little from one December to the next: -2,2 % at most over the real figures of the
# Charente-Maritime, 2020-2024 (125 685, 122 940, 123 845, 122 955, 123 525 foyers). A move of more than 5 % in
# one year (over twice the largest real one) is far more likely a file that lost or gained rows than the
# département's population: it is reported (a warning in the check and the build, a line in Annexe 2),
# never explained by a guessed cause.
YEARLY_MOVE = 0.05


def _geography_year(ref: Reference, year: int) -> int | None:
    """The year of the reference communes used for the geography of 1 January `year`: that year if the
    reference has it, else the nearest earlier one, else the earliest."""
    years = sorted(int(y) for y in ref.communes.annee_vigueur.unique()) if not ref.communes.empty else []
    if not years:
        return None
    earlier = [y for y in years if y <= year]
    return earlier[-1] if earlier else years[0]


def _codes(ds: Dataset, ref: Reference, year: int, geo: int | None) -> pd.Series:
    """The commune codes of December `year` (localised rows), folded onto the geography of 1 January `geo`."""
    rows = ds.frame[(ds.frame.dtreffre == december(year)) & ds.frame.code.notna()]
    return fold_codes(rows.code, ref.fusions, pd.Timestamp(geo if geo is not None else year + 1, 1, 1))


def check_communes(data: CafData, ref: Reference) -> list[str]:
    """The commune file's codes against the reference geography of each December (January N+1): a code the
    reference does not know is refused (file, line, column); returned, as warnings, each commune present one
    December and absent the next, and each département total moving by more than YEARLY_MOVE in a year."""
    from helpers import fmt

    warnings: list[str] = []
    com = data.com
    if com is not None and not ref.communes.empty:
        label = display_path(com.path)
        problems = []
        years = sorted({int(m[:4]) for m in com.months() if m.endswith("-12")})
        for y in years:
            geo = _geography_year(ref, y + 1)
            codes = _codes(com, ref, y, geo)
            known = set(ref.communes.code_commune[ref.communes.annee_vigueur == geo])
            for i in codes.index[~codes.isin(known)]:
                line = None if com.lines is None or pd.isna(com.lines[i]) else int(com.lines[i])
                problems.append(Problem(label, f"code commune « {com.frame.code[i]} » inconnu de la géographie "
                                        f"au 1er janvier {y + 1} (communes de référence de {geo}) : ce n’est pas une "
                                        f"commune du département {data.departement}", row=line,
                                        column=DATASETS["s_ben_com_f"][0][0]))
                if len(problems) >= 30:
                    break
        if problems:
            raise DataError(sorted(problems, key=lambda p: (p.row or 0)))
        names = dict(zip(ref.communes.code_commune, ref.communes.nom))
        for y in years:
            if y - 1 not in years:
                continue
            geo = _geography_year(ref, y + 1)  # both Decembers on the later one's geography
            before, now = set(_codes(com, ref, y - 1, geo)), set(_codes(com, ref, y, geo))
            for code in sorted(before - now):
                warnings.append(f"{label} : la commune {code}" + (f" ({names[code]})" if code in names else "")
                                + f" a une ligne en décembre {y - 1} et aucune en décembre {y} : les totaux de "
                                f"{y} sont calculés sans elle")
    for ds in (data.dep, data.com):
        if ds is None or "indfoy_ndur" not in ds.measures:
            continue
        localised = ds.frame[ds.frame.code.notna() & ds.frame.dtreffre.str.endswith("-12")]
        sums = localised.groupby(localised.dtreffre.str[:4].astype(int))["indfoy_ndur"].sum(min_count=1)
        for y, v in sums.items():
            prev = sums.get(y - 1)
            if prev is None or pd.isna(prev) or pd.isna(v) or not prev:
                continue
            move = v / prev - 1
            if abs(move) > YEARLY_MOVE:
                warnings.append(f"{display_path(ds.path)} : {fmt.nombre(v)} foyers allocataires en décembre {y} "
                                f"contre {fmt.nombre(prev)} en décembre {y - 1} ({fmt.variation(move, 1, True)}), "
                                f"une variation de plus de {fmt.pourcent(YEARLY_MOVE)} en un an : vérifiez que le "
                                "fichier a toutes ses lignes")
        break  # the totals come from the exact file when there is one (see `totals`)
    return warnings


def non_localised(data: CafData, year: int) -> float:
    if data.com is None or "indfoy_ndur" not in data.com.measures:
        return 0.0
    f = data.com.december(year)
    return float(f.loc[f.code.isna(), "indfoy_ndur"].sum())
