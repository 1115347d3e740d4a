"""Boundaries for maps and commune populations, read from a geo folder (`rapport fetch`, or
any folder in the same layout):

- `communes_<dep>_<year>[_<year>].geojson`: commune outlines, property `code` (and `nom`),
  valid for the years in the name (commune geography of 1 January);
- `epci_<dep>.geojson`: EPCI outlines, property `siren`;
- `epci_<dep>_composition_*.csv`: member communes by year in force, with their population
  (`annee_dgcl, siren_epci, insee, pmun`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers import lineage
from helpers.errors import DataError, Problem, display_path

_YEARS = re.compile(r"_(\d{4})(?:_(\d{4}))?\.geojson$")


CONTOURS_COMMUNES = lineage.Lu("contours", "IGN, Admin Express", "communes")  # « contours des communes »
CONTOURS_EPCI = lineage.Lu("contours", "IGN, Admin Express", "EPCI")


@dataclass
class Geo:
    folder: Path
    communes_files: list[tuple[int, int, Path]]
    epci_file: Path | None
    composition_files: list[Path]
    # Each file is read once per Geo (a chapter asks for the same outlines several times);
    # callers get copies, so they may add columns freely.
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def _outlines(self, path: Path, key: str):
        if path not in self._cache:
            g = _read(path, key)
            g[key] = g[key].astype(str)
            self._cache[path] = g
        return self._cache[path].copy()

    @property
    def files(self) -> list[Path]:
        out = [p for _, _, p in self.communes_files]
        out += [self.epci_file] if self.epci_file is not None else []
        return out + self.composition_files

    def communes_path(self, geography_year: int) -> Path | None:
        if not self.communes_files:
            return None
        for lo, hi, p in self.communes_files:
            if lo <= geography_year <= hi:
                return p
        return min(self.communes_files, key=lambda t: min(abs(t[0] - geography_year), abs(t[1] - geography_year)))[2]

    def communes(self, geography_year: int):
        p = self.communes_path(geography_year)
        if p is None:
            return None
        lineage.record(CONTOURS_COMMUNES)
        return self._outlines(p, "code")

    def epci(self):
        if self.epci_file is None:
            return None
        lineage.record(CONTOURS_EPCI)
        return self._outlines(self.epci_file, "siren")

    def _compositions(self) -> pd.DataFrame:
        if "compositions" not in self._cache:
            need = {"annee_dgcl", "insee", "pmun", "siren_epci"}
            frames = []
            for path in self.composition_files:
                part = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
                if not need <= set(part.columns):
                    raise DataError([Problem(display_path(path), "colonne obligatoire absente", column=c)
                                     for c in sorted(need - set(part.columns))])
                frames.append(part[sorted(need)])
            self._cache["compositions"] = pd.concat(frames, ignore_index=True).drop_duplicates(
                subset=["annee_dgcl", "insee"], keep="last")
        return self._cache["compositions"]

    def validate(self) -> list[Problem]:
        """Read every file once and check it: readable GeoJSON in WGS 84, a valid geometry for
        every feature, coordinates where the département can be (not swapped), one feature per
        code; numeric populations in the composition files. Problems, not exceptions: broken
        optional geography leaves the maps out, it does not stop the report."""
        problems: list[Problem] = []
        for path, key in [(p, "code") for _, _, p in self.communes_files] + (
                [(self.epci_file, "siren")] if self.epci_file is not None else []):
            label = display_path(path)
            try:
                g = self._outlines(path, key)
            except DataError as exc:
                problems += exc.problems
                continue
            if g.crs is not None and g.crs.to_epsg() != 4326:
                problems.append(Problem(label, f"système de coordonnées {g.crs.to_string()} : WGS 84 (EPSG:4326) attendu"))
                continue
            if g.empty:
                problems.append(Problem(label, "aucune entité"))
                continue
            for i, geom in enumerate(g.geometry):
                code = g[key].iloc[i]
                if geom is None or geom.is_empty:
                    problems.append(Problem(label, f"géométrie absente pour {key} {code}", row=i + 1))
                elif not geom.is_valid:
                    problems.append(Problem(label, f"géométrie invalide pour {key} {code}", row=i + 1))
            if any(pr.file == label for pr in problems):
                continue
            minx, miny, maxx, maxy = g.total_bounds
            if not _inside_france(minx, miny, maxx, maxy):
                swapped = _inside_france(miny, minx, maxy, maxx)
                problems.append(Problem(label, "coordonnées hors de la France" + (
                    " : longitude et latitude semblent inversées" if swapped else "")))
            dup = g[key][g[key].duplicated()]
            for code in dup.unique()[:5]:
                problems.append(Problem(label, f"plusieurs entités pour le même {key} {code}", column=key))
        for path in self.composition_files:
            try:
                df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
            except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                problems.append(Problem(display_path(path), f"fichier CSV illisible ({type(exc).__name__})"))
                continue
            if "pmun" in df.columns:
                bad = pd.to_numeric(df.pmun, errors="coerce").isna() & df.pmun.notna()
                for i in df.index[bad][:5]:
                    problems.append(Problem(display_path(path), f"population non numérique (valeur « {df.pmun[i]} »)",
                                            row=i + 2, column="pmun"))
        if not problems:
            try:
                self._compositions()
            except DataError as exc:
                problems += exc.problems
        return problems

    def commune_populations(self, year: int) -> pd.DataFrame | None:
        """Population municipale of each commune in force in `year` (nearest year available)."""
        if not self.composition_files:
            return None
        df = self._compositions()
        years = sorted(int(y) for y in df.annee_dgcl.unique())
        used = min(years, key=lambda y: (abs(y - year), -y))
        lineage.record(lineage.Lu("populations-communes", "DGCL et Insee", "populations municipales des communes", used))
        out = df[df.annee_dgcl == str(used)][["insee", "pmun", "siren_epci"]].copy()
        out["pmun"] = pd.to_numeric(out.pmun, errors="coerce")
        return out.rename(columns={"insee": "code", "pmun": "population"})


# Where a French département can be (WGS 84): metropolitan France and Corsica, then the overseas
# départements. Coordinates outside every box are wrong, or latitude and longitude are swapped.
_FRANCE = [(-5.5, 41.0, 10.0, 51.5), (-61.9, 15.8, -60.9, 16.6), (-61.3, 14.3, -60.7, 14.9),
           (-54.7, 2.1, -51.5, 5.9), (55.1, -21.5, 55.9, -20.8), (44.9, -13.1, 45.4, -12.6)]


def _inside_france(minx: float, miny: float, maxx: float, maxy: float) -> bool:
    return any(minx >= a - 0.5 and miny >= b - 0.5 and maxx <= c + 0.5 and maxy <= d + 0.5 for a, b, c, d in _FRANCE)


def _read(path: Path, key: str):
    import geopandas as gpd

    try:
        g = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several kinds of errors on a broken file
        raise DataError([Problem(display_path(path), f"fichier GeoJSON illisible ({exc})")])
    if key not in g.columns:
        raise DataError([Problem(display_path(path), "propriété obligatoire absente", column=key)])
    return g


def load_geo(folder: Path | None, departement: str) -> Geo | None:
    if folder is None:
        return None
    folder = Path(folder)
    communes = []
    for p in sorted(folder.glob(f"communes_{departement}_*.geojson")):
        m = _YEARS.search(p.name)
        if m:
            lo = int(m.group(1))
            communes.append((lo, int(m.group(2) or lo), p))
    epci = folder / f"epci_{departement}.geojson"
    comp = sorted(folder.glob(f"epci_{departement}_composition_*.csv"))
    geo = Geo(folder, communes, epci if epci.is_file() else None, comp)
    if not geo.communes_files and geo.epci_file is None:  # nothing for this département: absent, not broken
        return None
    return geo
