"""Reference tables of public facts: the EPCI of the département with their legal
populations by year in force, their member communes, and commune merges.

The Charente-Maritime (17) has its yearly tables (epci.csv, communes.csv: 2019-2025). Every other
département takes its EPCI and communes from the national tables of `france/` (COG and DGCL 2025,
populations in force in 2025): an EPCI that spans départements is restricted to its communes in
the département (population included), and says which départements it spans."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from helpers import lineage
from helpers.data.schemas import RE_INT, num_col, read_text_csv, text_col, validate
from helpers.errors import DataError, Problem, display_path

EPCI_SCHEMA = pa.DataFrameSchema({
    "departement": text_col(r"^(\d{2}|2A|2B|97\d)$", "code de département invalide"),
    "siren": text_col(r"^\d{9}$", "SIREN invalide (9 chiffres attendus)"),
    "annee_vigueur": text_col(r"^\d{4}$", "année invalide"),
    "nom": text_col(),
    "type": text_col(isin=["CA", "CC", "CU", "ME", "ML"]),
    "population_municipale": num_col(integer=True),
    "source": text_col(),
})

COMMUNES_SCHEMA = pa.DataFrameSchema({
    "departement": text_col(r"^(\d{2}|2A|2B|97\d)$", "code de département invalide"),
    "annee_vigueur": text_col(r"^\d{4}$", "année invalide"),
    "code_commune": text_col(r"^(\d{5}|2[AB]\d{3})$", "code commune invalide (5 caractères)"),
    "nom": text_col(),
    "siren_epci": text_col(r"^\d{9}$", "SIREN invalide (9 chiffres attendus)"),
    "population_municipale": num_col(integer=True),
    "source": text_col(),
})

RE_COMMUNE = r"^(\d{5}|2[AB]\d{3})$"

NATIONAL_COMMUNES_SCHEMA = pa.DataFrameSchema({
    "code_commune": text_col(RE_COMMUNE, "code commune invalide (5 caractères)"),
    "nom": text_col(),
    "departement": text_col(r"^(\d{2}|2A|2B|97\d)$", "code de département invalide"),
    "region": text_col(r"^\d{2}$", "code de région invalide"),
    "siren_epci": text_col(r"^(\d{9})?$", "SIREN invalide (9 chiffres attendus)", nullable=True),
    "population_municipale": num_col(integer=True),
    "annee_vigueur": text_col(r"^\d{4}$", "année invalide"),
    "origine_population": text_col(isin=["dgcl", "cog"]),
})

NATIONAL_EPCI_SCHEMA = pa.DataFrameSchema({
    "siren": text_col(r"^\d{9}$", "SIREN invalide (9 chiffres attendus)"),
    "nom": text_col(),
    "type": text_col(isin=["CA", "CC", "CU", "ME", "ML"]),
    "nb_communes": num_col(integer=True),
    "population_municipale": num_col(integer=True),
    "departements": text_col(r"^(\d{2}|2A|2B|97\d)(\|(\d{2}|2A|2B|97\d))*$", "liste de départements invalide"),
    "annee_vigueur": text_col(r"^\d{4}$", "année invalide"),
    "millesime_rp": text_col(r"^\d{4}$", "année invalide"),
})

# The types of EPCI as a reader names them
EPCI_TYPES = {"CA": "communauté d’agglomération", "CC": "communauté de communes", "CU": "communauté urbaine",
              "ME": "métropole", "ML": "collectivité à statut particulier (Métropole de Lyon)"}

NATIONAL = "france"  # folder of the national tables, under reference_dir

FUSIONS_SCHEMA = pa.DataFrameSchema({
    "departement": text_col(),
    "code_ancien": text_col(r"^(\d{5}|2[AB]\d{3})$", "code commune invalide"),
    "code_nouveau": text_col(r"^(\d{5}|2[AB]\d{3})$", "code commune invalide"),
    "date_effet": text_col(r"^\d{4}-\d{2}-\d{2}$", "date invalide (AAAA-MM-JJ)"),
    "source": text_col(),
})


def _load(path: Path, schema: pa.DataFrameSchema) -> pd.DataFrame:
    df = read_text_csv(path)
    problems = validate(df, schema, path)
    if problems:
        raise DataError(problems)
    return df


@dataclass(frozen=True)
class Reference:
    """EPCI and communes of one département (possibly none: an unknown département)."""

    departement: str
    epci: pd.DataFrame  # siren, annee_vigueur (int), nom, type, population_municipale (int), source
    communes: pd.DataFrame  # code_commune, annee_vigueur, nom, siren_epci, population_municipale
    fusions: pd.DataFrame  # code_ancien, code_nouveau, date_effet (Timestamp)
    files: tuple[Path, ...]
    epci_origin: str

    @property
    def known(self) -> bool:
        return not self.epci.empty

    @property
    def national(self) -> bool:
        """The EPCI and communes come from the national tables (only the populations in force in
        their single year), not from yearly tables of the département."""
        return any(Path(f).parent.name == NATIONAL for f in self.files)

    def geography(self, year: int) -> pd.Timestamp:
        """The commune geography that December `year` data are put on: 1 January year+1; for a
        département known only from the national tables (one geography, 2025), that later one, so
        that its communes, EPCI and outlines match (merges effective by then folded)."""
        target = year + 1
        if self.national and not self.communes.empty:
            later = sorted(y for y in set(self.communes.annee_vigueur) if y >= target)
            if later:
                target = later[0]
        return pd.Timestamp(target, 1, 1)

    def spanning(self, year: int) -> pd.DataFrame:
        """The EPCI of `year` with members outside the département: siren, nom, departements (the
        others, `|`-separated), nb_communes (here), nb_communes_epci, population_municipale (here),
        population_epci (whole)."""
        df = self._epci(year)[0]
        if df.empty or "departements" not in df.columns:
            return df.iloc[0:0]
        out = df[df.departements != self.departement].copy()
        out["departements"] = out.departements.map(
            lambda d: "|".join(x for x in d.split("|") if x != self.departement))
        return out.reset_index(drop=True)

    def _epci(self, year: int) -> tuple[pd.DataFrame, int]:
        if self.epci.empty:
            return self.epci, year
        years = sorted(self.epci.annee_vigueur.unique())
        earlier = [y for y in years if y <= year]
        used = earlier[-1] if earlier else years[0]
        return self.epci[self.epci.annee_vigueur == used].reset_index(drop=True), int(used)

    def epci_year(self, year: int) -> tuple[pd.DataFrame, int]:
        """The EPCI with the legal populations in force in `year` (or the nearest earlier year
        available, else the earliest), and the year of the figures used: a read of the populations."""
        df, used = self._epci(year)
        if not df.empty:
            lineage.record(lineage.Lu("populations", "DGCL", "populations légales des EPCI", used))
        return df, used

    def epci_names(self, year: int) -> pd.DataFrame:
        """The EPCI of `year` (siren, nom, type) without their populations: naming a territory reads
        no statistic."""
        return self._epci(year)[0][["siren", "nom", "type"]]

    def sirens(self) -> set[str]:
        return set(self.epci.siren)


def load_reference(reference_dir: Path, departement: str, geo_dir: Path | None = None,
                   national: bool = True) -> Reference:
    """Read the embedded reference tables, or those of geo_dir where it provides them. A
    département absent from the yearly tables takes its EPCI and communes from the national tables
    (`national=False`: it stays unknown, as `rapport fetch` expects)."""
    files: list[Path] = []
    epci_path = Path(reference_dir) / "epci.csv"
    epci = _load(epci_path, EPCI_SCHEMA)
    epci = epci[epci.departement == departement].copy()
    com_path = Path(reference_dir) / "communes.csv"
    nat_dir = Path(reference_dir) / NATIONAL
    if epci.empty and national and (nat_dir / "epci_2025.csv").is_file():
        epci, communes = national_tables(nat_dir, departement)
        epci_path, com_path = nat_dir / "epci_2025.csv", nat_dir / "communes_2025.csv"
    else:
        communes = None
        epci["departements"] = departement
    files.append(epci_path)
    epci_origin = display_path(epci_path)
    if geo_dir is not None:
        geo_epci = Path(geo_dir) / f"epci_{departement}.csv"
        if geo_epci.is_file():
            # The geo folder's years win; other years keep the embedded DGCL figures (a fetched
            # cache holds only the populations in force today).
            geo = read_geo_epci(geo_epci, departement)
            epci = pd.concat([epci[~epci.annee_vigueur.isin(set(geo.annee_vigueur))], geo], ignore_index=True)
            files.append(geo_epci)
            epci_origin = f"{display_path(epci_path)} et {display_path(geo_epci)}"
    epci["annee_vigueur"] = epci.annee_vigueur.astype(int)
    epci["population_municipale"] = pd.to_numeric(epci.population_municipale).astype(int)
    epci["departements"] = epci.departements.fillna(departement)
    for col, base in (("population_epci", "population_municipale"), ("nb_communes_epci", "nb_communes")):
        if col not in epci.columns:
            epci[col] = epci[base] if base in epci.columns else pd.NA
        epci[col] = epci[col].fillna(epci[base]) if base in epci.columns else epci[col]
    epci["nom"] = epci.nom.map(display_name)

    if communes is None:
        communes = _load(com_path, COMMUNES_SCHEMA)
        communes = communes[communes.departement == departement].copy()
    files.append(com_path)
    communes["annee_vigueur"] = communes.annee_vigueur.astype(int)
    communes["population_municipale"] = pd.to_numeric(communes.population_municipale).astype(int)

    fus_path = Path(reference_dir) / "fusions_communes.csv"
    fusions = _load(fus_path, FUSIONS_SCHEMA)
    files.append(fus_path)
    fusions = fusions[fusions.departement == departement].copy()
    fusions["date_effet"] = pd.to_datetime(fusions.date_effet)
    return Reference(departement, epci.reset_index(drop=True), communes.reset_index(drop=True),
                     fusions.reset_index(drop=True), tuple(files), epci_origin)


_NATIONAL_CACHE: dict = {}


def _national_frames(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The national communes and EPCI tables, read and checked once per process (and file version)."""
    key = tuple((p, p.stat().st_mtime_ns) for p in (folder / "communes_2025.csv", folder / "epci_2025.csv"))
    if key not in _NATIONAL_CACHE:
        _NATIONAL_CACHE.clear()
        _NATIONAL_CACHE[key] = (_load(folder / "communes_2025.csv", NATIONAL_COMMUNES_SCHEMA),
                                _load(folder / "epci_2025.csv", NATIONAL_EPCI_SCHEMA))
    com, epci = _NATIONAL_CACHE[key]
    return com.copy(), epci.copy()


def national_tables(folder: Path, departement: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The EPCI and communes of `departement` from the national tables, in the layout of the yearly
    tables: each EPCI restricted to its communes in the département (nb_communes and
    population_municipale of that part), with its whole figures beside them (nb_communes_epci,
    population_epci) and the départements it spans."""
    com, epci = _national_frames(Path(folder))
    com = com[com.departement == departement].copy()
    com["population_municipale"] = pd.to_numeric(com.population_municipale).astype(int)
    label = f"DGCL epcicom2025 et Insee COG 2025 ({NATIONAL}/, paquet npm @etalab/decoupage-administratif 5.3.0)"
    members = com.dropna(subset=["siren_epci"])
    part = members.groupby("siren_epci").agg(nb_communes=("code_commune", "size"),
                                             population_municipale=("population_municipale", "sum"))
    epci = epci[epci.siren.isin(part.index)].rename(columns={"nb_communes": "nb_communes_epci",
                                                               "population_municipale": "population_epci"})
    epci = epci.merge(part, left_on="siren", right_index=True)
    epci["departement"] = departement
    epci["source"] = label
    epci["population_epci"] = pd.to_numeric(epci.population_epci).astype(int)
    epci["nb_communes_epci"] = pd.to_numeric(epci.nb_communes_epci).astype(int)
    epci["population_municipale"] = epci.population_municipale.astype(str)
    com["source"] = label
    communes = com[["departement", "annee_vigueur", "code_commune", "nom", "siren_epci", "population_municipale",
                    "source"]].copy()
    communes["population_municipale"] = communes.population_municipale.astype(str)
    return epci.reset_index(drop=True), communes.reset_index(drop=True)


def read_geo_epci(path: Path, departement: str) -> pd.DataFrame:
    """The EPCI summary of a geo folder (columns siren, nom, type, population, annee_vigueur)."""
    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    need = ["siren", "nom", "type", "population", "annee_vigueur"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataError([Problem(display_path(path), "colonne obligatoire absente", column=c) for c in missing])
    out = pd.DataFrame({
        "departement": departement,
        "siren": df.siren.str.strip(),
        "annee_vigueur": df.annee_vigueur,
        "nom": df.nom,
        "type": df.type,
        "population_municipale": df.population,
        "source": df.get("source", pd.Series(display_path(path), index=df.index)),
    })
    bad = ~out.population_municipale.str.fullmatch(RE_INT.strip("^$"))
    if bad.any():
        i = int(bad.idxmax())
        raise DataError([Problem(display_path(path), "un nombre entier est attendu", row=i + 2, column="population")])
    return out


_DISPLAY = [("'", "’"), ("l’Ile ", "l’Île "), ("Coeur", "Cœur")]


def display_name(name: str) -> str:
    """Names as a reader expects them (the DGCL file writes `CC de l'Ile de Ré`, `Coeur`)."""
    for a, b in _DISPLAY:
        name = name.replace(a, b)
    return name


def epci_sort_key(name: str) -> str:
    """`CA de La Rochelle` sorts under R, `CC de l’Île d’Oléron` under I (articles and the
    CA/CC prefix ignored)."""
    import re
    import unicodedata

    n = re.sub(r"^(CA|CC|CU|Métropole)\s+", "", name.replace("œ", "oe").replace("Œ", "Oe")).lstrip("\"«“ ")
    n = re.sub(r"^(de la |de l’|de l'|du |des |de |d’)", "", n, flags=re.I)
    n = re.sub(r"^(la |le |les |l’)", "", n, flags=re.I)
    return unicodedata.normalize("NFKD", n).encode("ascii", "ignore").decode().lower()


def fold_codes(codes: pd.Series, fusions: pd.DataFrame, geography: pd.Timestamp) -> pd.Series:
    """Map old commune codes to the commune they were merged into, for merges effective on
    or before `geography` (chains of merges are followed)."""
    active = fusions[fusions.date_effet <= geography]
    mapping = dict(zip(active.code_ancien, active.code_nouveau))
    if not mapping:
        return codes

    def follow(c):
        seen = set()
        while c in mapping and c not in seen:
            seen.add(c)
            c = mapping[c]
        return c

    return codes.map(lambda c: follow(c) if isinstance(c, str) else c)
