"""Real open data beside the Cafdata exports: département monthly series of the family
allowances (AF) and the complément familial (CF), and the childcare coverage rates.

The AF/CF files are read as re-published (`,` separator, no BOM, every département; four trailing
columns added by the re-publisher are not Cafdata and are ignored); like the official exports they
carry technical duplicate rows (value 1 or 2 beside the real row), dropped by the same rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from helpers import lineage
from helpers.data.cafdata import Dropped, drop_technical_rows
from helpers.data.schemas import (  # benefit -> (dataset, file name, modality column, measure)
    RE_MONTH,
    num_col,
    read_text_csv,
    text_col,
    validate,
)
from helpers.errors import DataError, Problem, display_path

AF_CF = {
    "AF": ("af_s_majo_dep", "df_af_s_majo_dep_data.csv", "af_majo", "indfoy_af"),
    "CF": ("cf_s_majo_dep", "df_cf_s_majo_dep_data.csv", "cf_majo", "indfoy_cf"),
}
BENEFIT_NAMES = {"AF": "allocations familiales", "CF": "complément familial"}
# France's December foyers of three benefits (Cafdata s_ben_nat, in thousands, re-published): series -> the
# benefit group of the commune and département files it compares with (data/cafdata.py BENEFIT_GROUPS)
NATIONAL_FILE = "allocataires-cnaf.csv"
NATIONAL_SERIES = {"apl": "Aides au logement", "prime-activite": "Prime d’activité",
                   "rsa": "Revenu de solidarité active"}
RE_DEP = r"^([0-9]{2}|2A|2B|97[0-9])$"


@dataclass(frozen=True)
class DepSeries:
    """December foyers of AF and CF for the département, its region and France."""

    frame: pd.DataFrame  # annee, prestation (AF/CF), territoire (departement/region/france), foyers
    departement: str
    region_code: str
    region_name: str
    files: tuple[Path, ...]
    datasets: tuple[str, ...]
    dropped: int  # technical rows left out, all files
    n_departements: int  # départements summed for France
    france_groupes: pd.DataFrame | None = None  # annee, groupe, foyers: France, s_ben_nat (NATIONAL_SERIES)

    def years(self) -> list[int]:
        return sorted(int(y) for y in self.frame.annee.unique())

    def between(self, first: int, last: int) -> pd.DataFrame:
        """The Decembers first..last (a read of each dataset, for the source lines)."""
        f = self.frame[(self.frame.annee >= first) & (self.frame.annee <= last)]
        lineage.record(*(lineage.Lu("cafdata", "Cnaf, Cafdata", name, int(y)) for name in self.datasets
                         for y in f.annee.unique()))
        return f

    def france(self, groupe: str, year: int) -> float | None:
        """France's December foyers of a benefit group (s_ben_nat), a read for the source lines; None when the
        national file does not give it."""
        f = self.france_groupes
        if f is None:
            return None
        row = f[(f.groupe == groupe) & (f.annee == year)]
        if row.empty:
            return None
        lineage.record(lineage.Lu("cafdata", "Cnaf, Cafdata", "s_ben_nat", int(year)))
        return float(row.foyers.iloc[0])


def read_national_benefits(path: Path) -> pd.DataFrame:
    """France's December foyers by benefit group from the re-published s_ben_nat series (period, series,
    value in thousands): checked like every input, row and column named on a fault."""
    raw = read_text_csv(path, sep=",", strict=True)
    schema = pa.DataFrameSchema({
        "period": text_col(r"^[0-9]{4}$", "année invalide (AAAA attendu)"),
        "series": text_col(isin=list(NATIONAL_SERIES)),
        "value": num_col(),
    })
    problems = validate(raw, schema, path)
    if not problems:
        dup = raw.duplicated(["period", "series"], keep="first")
        problems = [Problem(display_path(path), f"année {raw.period[i]} répétée pour la série « {raw.series[i]} »",
                            i + 2, "period") for i in raw.index[dup]]
    if problems:
        raise DataError(problems)
    return pd.DataFrame({"annee": raw.period.astype(int), "groupe": raw.series.map(NATIONAL_SERIES),
                         "foyers": 1000 * pd.to_numeric(raw.value.str.replace(",", "."))})


def read_dep_series(path: Path, modality: str, measure: str) -> tuple[pd.DataFrame, list[Dropped]]:
    label = display_path(path)
    raw = read_text_csv(path, sep=",", strict=True)
    schema = pa.DataFrameSchema({
        "dtreffre": text_col(RE_MONTH, "date de référence invalide (format attendu AAAA-MM)"),
        "numdep": text_col(RE_DEP, "code de département invalide"),
        "numregi": text_col(r"^[0-9]{2}$", "code de région invalide"),
        modality: text_col(),
        measure: num_col(integer=True),
    })
    problems = validate(raw, schema, path)
    if problems:
        raise DataError(problems)
    frame = raw[["dtreffre", "numdep", "numregi", modality]].copy()
    frame[measure] = pd.to_numeric(raw[measure]).astype(float)
    frame["_line"] = raw.index + 2
    frame, _, technical = drop_technical_rows(frame, ["dtreffre", "numdep", modality], [measure], label, measure)
    return frame.drop(columns="_line"), technical


def _region_names(reference_dir: Path | None) -> dict[str, str]:
    if reference_dir is None or not (Path(reference_dir) / "regions.csv").is_file():
        return {}
    df = read_text_csv(Path(reference_dir) / "regions.csv")
    return dict(zip(df.code, df.nom))


def load_dep_series(folder: Path | None, departement: str, reference_dir: Path | None = None) -> DepSeries | None:
    """December AF and CF foyers, summed over modalities; None when the files are not there."""
    if folder is None:
        return None
    folder = Path(folder) / "departements"
    paths = {b: folder / name for b, (_, name, _, _) in AF_CF.items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    rows, files, dropped, region, n_dep = [], [], 0, None, 0
    for benefit, (dataset, _, modality, measure) in AF_CF.items():
        frame, technical = read_dep_series(paths[benefit], modality, measure)
        files.append(paths[benefit])
        dropped += len(technical)
        dec = frame[frame.dtreffre.str.endswith("-12")]
        mine = dec[dec.numdep == departement]
        if mine.empty:
            return None
        region = mine.numregi.iloc[0]
        n_dep = dec.numdep.nunique()
        for month, g in dec.groupby("dtreffre"):
            year = int(month[:4])
            # France only for Decembers where every département of the file is present
            complete = g.numdep.nunique() == n_dep
            for territoire, part in (("departement", g[g.numdep == departement]),
                                     ("region", g[g.numregi == region]), ("france", g if complete else None)):
                if part is not None and not part.empty:
                    rows.append({"annee": year, "prestation": benefit, "territoire": territoire,
                                 "foyers": float(part[measure].sum())})
    names = _region_names(reference_dir)
    national = Path(folder).parent / NATIONAL_FILE
    france = None
    if national.is_file():
        france = read_national_benefits(national)
        files.append(national)
    return DepSeries(pd.DataFrame(rows), departement, region, names.get(region, f"région {region}"),
                     tuple(files), tuple(v[0] for v in AF_CF.values()), dropped, n_dep, france)


# ---------------------------------------------------------------- childcare coverage

PE_FILE = "petite-enfance/txcouv_pe_*.csv"
PE_PARTS = {"txcouv_eaje": "accueil collectif (EAJE)", "txcouv_am_ind": "assistantes maternelles",
            "txcouv_prescol": "école dès 2 ans", "txcouv_gad_ind": "garde à domicile"}


@dataclass(frozen=True)
class Childcare:
    frame: pd.DataFrame  # niveau, code, nom, annee (int), txcouv (float), parts
    path: Path
    year: int

    def _read(self) -> None:
        lineage.record(lineage.Lu("petite-enfance", "Cnaf, Cafdata", "taux de couverture global petite enfance",
                                  self.year))

    def level(self, niveau: str) -> pd.DataFrame:
        self._read()
        return self.frame[self.frame.niveau == niveau]

    def value(self, niveau: str, code: str) -> float | None:
        self._read()
        f = self.frame[(self.frame.niveau == niveau) & (self.frame.code == code)]
        return None if f.empty else float(f.txcouv.iloc[0])


def load_childcare(folder: Path | None) -> Childcare | None:
    if folder is None:
        return None
    hits = sorted(Path(folder).glob(PE_FILE))
    if not hits:
        return None
    if len(hits) > 1:
        raise DataError([Problem(display_path(Path(folder) / "petite-enfance"),
                                 "plusieurs fichiers de taux de couverture petite enfance : gardez-en un seul")])
    path = hits[0]
    raw = read_text_csv(path, sep=",", strict=True)
    cols = {"niveau": text_col(isin=["france", "region", "departement", "epci", "commune"]),
            "code": text_col(), "annee": text_col(r"^[0-9]{4}$", "année invalide"),
            "txcouv": num_col()}
    cols.update({c: num_col(nullable=True) for c in PE_PARTS})
    problems = validate(raw, pa.DataFrameSchema(cols), path)
    if problems:
        raise DataError(problems)
    f = raw.copy()
    f["annee"] = f.annee.astype(int)
    for c in ["txcouv", *PE_PARTS]:
        f[c] = pd.to_numeric(f[c]).astype(float)
    years = sorted(f.annee.unique())
    if len(years) != 1:
        raise DataError([Problem(display_path(path), "une seule année attendue", column="annee")])
    return Childcare(f, path, int(years[0]))


def national_childcare(reference_dir: Path, departement: str, ref) -> Childcare | None:
    """The coverage rates of the national table (reference_dir/france/petite-enfance/) kept for one
    département, as a département's own file holds them: France, its region, the départements of
    that region, its EPCI (`ref`) and its communes."""
    import csv

    whole = load_childcare(Path(reference_dir) / "france")
    deps = Path(reference_dir) / "departements.csv"
    if whole is None or not deps.is_file():
        return None
    with open(deps, encoding="utf-8", newline="") as f:
        region_of = {r["code"]: r.get("region") for r in csv.DictReader(f, delimiter=";")}
    region = region_of.get(departement)
    f = whole.frame
    keep = ((f.niveau == "france") | ((f.niveau == "region") & (f.code == region))
            | ((f.niveau == "departement") & f.code.map(lambda c: region_of.get(c) == region))
            | ((f.niveau == "epci") & f.code.isin(ref.sirens()))
            | ((f.niveau == "commune") & f.code.str.startswith(departement)))
    if not ((f.niveau == "departement") & (f.code == departement)).any():
        return None
    return Childcare(f[keep].reset_index(drop=True), whole.path, whole.year)


NATIONAL_COUNTS = "allocataires-cnaf.csv"
NATIONAL_SERIES = {  # series of the national file -> the benefit group it counts (cafdata.BENEFIT_GROUPS)
    "apl": "Aides au logement", "rsa": "Revenu de solidarité active", "prime-activite": "Prime d’activité"}


@dataclass(frozen=True)
class NationalCounts:
    """Foyers receiving the RSA, the prime d'activité and the aides au logement in France, each December
    (Cnaf, s_ben_nat, in thousands rounded to 0.1 in the file; kept here in foyers)."""

    frame: pd.DataFrame  # annee, groupe, foyers
    path: Path

    def foyers(self, groupe: str, year: int) -> float | None:
        row = self.frame[(self.frame.groupe == groupe) & (self.frame.annee == year)]
        if row.empty:
            return None
        lineage.record(lineage.Lu("cafdata", "Cnaf, Cafdata", "s_ben_nat", int(year)))
        return float(row.foyers.iloc[0])


def load_national_counts(folder: Path | None) -> NationalCounts | None:
    """`national/allocataires-cnaf.csv` (period, series, value), checked; None when the file is absent."""
    if folder is None or not (Path(folder) / NATIONAL_COUNTS).is_file():
        return None
    path = Path(folder) / NATIONAL_COUNTS
    raw = read_text_csv(path, sep=",", strict=True)
    schema = pa.DataFrameSchema({
        "period": text_col(r"^(19|20)[0-9]{2}$", "année invalide (format attendu AAAA)"),
        "series": text_col("^(" + "|".join(NATIONAL_SERIES) + ")$",
                           "série inconnue (attendu : " + ", ".join(NATIONAL_SERIES) + ")"),
        "value": num_col(),
    })
    problems = validate(raw, schema, path)
    if problems:
        raise DataError(problems)
    dup = raw.duplicated(["period", "series"], keep=False)
    if dup.any():
        line = int(raw.index[dup][0]) + 2
        raise DataError([Problem(display_path(path), "série et année en double", line, "series")])
    frame = pd.DataFrame({"annee": raw.period.astype(int), "groupe": raw.series.map(NATIONAL_SERIES),
                          "foyers": pd.to_numeric(raw.value).astype(float) * 1000})
    return NationalCounts(frame, path)
