"""What a chapter notebook opens first: checked parameters and data, for one year."""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import fmt, lineage
from helpers.data.cafdata import CafData, check_communes, load_cafdata
from helpers.data.geo import Geo, load_geo
from helpers.data.reference import Reference, load_reference
from helpers.data.registers import Registers, load_registers
from helpers.data.series import (
    Childcare,
    DepSeries,
    NationalCounts,
    load_childcare,
    load_dep_series,
    load_national_counts,
    national_childcare,
)
from helpers.errors import DataError, Problem, display_path
from helpers.params import Parametres, Resolved, resolve
from helpers.report.page import Page

log = logging.getLogger(__name__)


@dataclass
class Context:
    chapter: str
    resolved: Resolved
    reference: Reference
    cafdata: CafData | None = None
    registers: Registers | None = None
    geo: Geo | None = None
    series: DepSeries | None = None  # AF/CF by December: département, region, France
    childcare: Childcare | None = None  # childcare coverage rates (EPCI, département, region, France)
    national: NationalCounts | None = None  # RSA, prime d'activité, aides au logement in France by December
    warnings: list = field(default_factory=list)  # what the data checks report without refusing (check_communes)
    _memo: dict = field(default_factory=dict, repr=False, compare=False)  # results computed once (see `once`)
    page: Page = field(default=None)  # type: ignore[assignment]

    @property
    def p(self) -> Parametres:
        return self.resolved.params

    @property
    def year(self) -> int:
        return self.p.year

    @property
    def date_obs(self) -> str:
        return fmt.date_longue(self.p.observation_date)

    def files(self) -> list[Path]:
        """Every input file this chapter's context read (for provenance and the build's cache)."""
        out = list(self.reference.files)
        if self.geo is not None:
            out += self.geo.files
        if self.cafdata is not None:
            out += self.cafdata.files
        if self.series is not None:
            out += list(self.series.files)
        if self.childcare is not None:
            out.append(self.childcare.path)
        if self.national is not None:
            out.append(self.national.path)
        if self.registers is not None:
            out += list(self.registers.files)
        return sorted(set(out))

    def registres_illustratifs(self) -> bool:
        """Some register read by this chapter holds illustrative rows."""
        return bool(self.registers is not None and any(self.registers.illustrative.values()))

    def registres_disponibles(self) -> bool:
        """The département has registers and known EPCI: the CTG and cooperation chapters can be computed."""
        return self.registers is not None and self.reference.known

    def epci_names(self) -> dict[str, str]:
        """SIREN -> name of the département's EPCI in the report's year (no statistic read)."""
        epci = self.reference.epci_names(self.year)
        return dict(zip(epci.siren, epci.nom))

    def epci_outlines(self, values):
        """The EPCI outlines with `values` (a frame with a `siren` column; its `nom` wins over the
        outlines' own) joined; None when no outline was given."""
        outlines = self.geo.epci() if self.geo is not None else None
        if outlines is None:
            return None
        return outlines.drop(columns=["nom"], errors="ignore").merge(values, on="siren", how="left")

    def tagged(self, values: dict, reads) -> dict:
        """A chapter's values with what they were computed from (lineage.Valeur), except the report's
        own parameters (year, date, Caf), which read no data: the page marks what shows an illustrative one."""
        base = self.base_values()
        return lineage.Valeurs({**lineage.tag({k: v for k, v in values.items() if k not in base}, reads),
                                **{k: v for k, v in values.items() if k in base}})

    def notes_hors_departement(self, siren: str | None = None) -> list[str]:
        """One sentence per EPCI (or for `siren`) that spans other départements: only its communes
        of this département are counted, with their population."""
        from helpers.params import departement_row

        def named(code: str) -> str:
            row = departement_row(code, self.p.reference_dir)
            if row is None:
                return code
            article = {"du": "le ", "de la": "la ", "des": "les ", "de l’": "l’", "d’": ""}.get(row["article"], "")
            return f"{article}{row['nom']} ({code})"

        sp = self.reference.spanning(self.year)
        if siren is not None:
            sp = sp[sp.siren == siren]
        out = []
        for r in sp.itertuples():
            others = [named(d) for d in r.departements.split("|")]
            where = ", ".join(others[:-1]) + " et " + others[-1] if len(others) > 1 else others[0]
            n, total = int(r.nb_communes), int(r.nb_communes_epci)
            part = (f"seule sa commune du département, sur {fmt.nombre(total)}, est comptée ici" if n == 1 else
                    f"seules ses {fmt.nombre(n)} communes du département, sur {fmt.nombre(total)}, sont comptées ici")
            out.append(f"{r.nom} s’étend aussi sur {where} : {part}, avec leur population municipale "
                       f"({fmt.nombre(int(r.population_municipale))} habitants sur {fmt.nombre(int(r.population_epci))})."
                       .replace("avec leur population", "avec sa population" if n == 1 else "avec leur population"))
        return out

    def base_values(self) -> dict[str, str]:
        return {"annee": str(self.year), "annee_precedente": str(self.year - 1), "date_obs": self.date_obs,
                "caf": self.p.caf_name, "departement": self.p.departement}



def registers_folder(p: Parametres) -> Path:
    return Path(p.registers_dir) / p.departement


# The registers each chapter is computed from (keys of helpers.data.registers.FILES)
CHAPTER_REGISTERS = {"ctg": ("des conventions territoriales globales", ("ctg",)),
                     "cooperation": ("des postes de coopération et des rencontres du réseau", ("postes", "reunions"))}


def registre_a_remplir(p: Parametres, chapter: str) -> str:
    """One line: which register the Caf must fill for `chapter` to be computed (the report says it
    where the chapter would be, `rapport check` as a remark)."""
    from helpers.data.registers import FILES

    what, keys = CHAPTER_REGISTERS[chapter]
    folder = registers_folder(p)
    names = " et ".join(f"« {display_path(folder / FILES[k])} »" for k in keys)
    return (f"Registre {what} à remplir par la {p.caf_name} pour que ce chapitre présente ses chiffres : "
            f"{names} (mêmes colonnes que les registres de data/registers/17/).")


def once(fn):
    """A chapter's computation done once per context: the text, the key figures, the figures, the
    tables, their alt texts and Annexe 2 then read the same result instead of computing it again.
    Callers get a shallow copy of a dict or a data frame, so they may add to it freely. What the
    computation read is remembered with it and recorded again at each use (source lines)."""
    import copy
    import functools

    @functools.wraps(fn)
    def wrapper(ctx: "Context", *args):
        key = (fn.__module__, fn.__qualname__, args)
        if key not in ctx._memo:
            with lineage.recording() as reads:
                result = fn(ctx, *args)
            ctx._memo[key] = (result, frozenset(reads))
        value, reads = ctx._memo[key]
        lineage.record(*reads)  # what the result was computed from, for the source lines of its users
        return copy.copy(value) if isinstance(value, (dict, list)) or hasattr(value, "iloc") else value

    return wrapper


def no_cafdata(p: Parametres) -> DataError:
    """No Cafdata exports for the département: say which command fetches them."""
    return DataError([Problem(
        display_path(Path(p.data_dir) / "cache" / p.departement / "cafdata"),
        f"aucune donnée Cafdata pour le département {p.departement} : ni données intégrées au projet "
        f"(data/opendata/{p.departement}/cafdata) ni cache téléchargé (data/cache/{p.departement}/cafdata). "
        f"Téléchargez-les avec « rapport fetch --year {p.year} --departement {p.departement} », puis relancez "
        f"la construction ; ou indiquez un dossier d’exports avec --set cafdata_dir=DOSSIER.")])


def load_for(chapter: str, p: Parametres, resolved: Resolved) -> Context:
    from helpers.data.memo import cached, computed  # inside a batch, each input read once (helpers.data.memo)

    ref = cached("reference", load_reference, p.reference_dir, p.departement, p.geo_dir,
                 folders=(p.reference_dir, p.geo_dir))
    ctx = Context(chapter, resolved, ref, page=Page(chapter, caf=p.caf_name))
    # Boundaries are optional: absent, the report goes without maps (and Annexe 1 says so); present but unreadable
    # or wrong, they are refused like any other input, never skipped (a corrupt file is not an absent one).
    ctx.geo = cached("geo", load_geo, p.geo_dir, p.departement, folders=(p.geo_dir,))
    geo = ctx.geo
    broken = computed("geo-valide", (p.geo_dir, p.departement), lambda: geo.validate() if geo is not None else [],
                      folders=(p.geo_dir,))
    if broken:
        raise DataError([*broken, Problem(display_path(ctx.geo.folder), (
            "contours présents mais inutilisables : corrigez ces fichiers ou retirez-les du dossier "
            "(sans contours, le rapport paraît sans cartes)"))])
    from helpers.chapters import registry

    reads = registry.spec(chapter).reads
    if "cafdata" in reads:
        if p.cafdata_path is None:
            raise no_cafdata(p)
        ctx.cafdata = cached("cafdata", load_cafdata, p.cafdata_path, p.departement, p.extraits_path,
                             folders=(p.cafdata_path, p.extraits_path))
        ctx.page.illustrative = ctx.cafdata.illustrative
        if p.year not in ctx.cafdata.years():
            avail = ", ".join(str(y) for y in ctx.cafdata.years())
            raise DataError([Problem(display_path(p.cafdata_path),
                                     f"pas de données pour décembre {p.year} (années présentes : {avail})")])
        data = ctx.cafdata
        ctx.warnings = list(computed("communes", (p.cafdata_path, p.departement, p.extraits_path, p.reference_dir,
                                                  p.geo_dir), lambda: check_communes(data, ref),
                                     folders=(p.cafdata_path, p.extraits_path, p.reference_dir, p.geo_dir)))
    if "series" in reads:
        ctx.series = cached("series", load_dep_series, p.national_dir, p.departement, p.reference_dir,
                            folders=(p.national_dir, p.reference_dir))
    if "national" in reads:
        ctx.national = cached("national", load_national_counts, p.national_dir, folders=(p.national_dir,))
    if "registers" in reads:
        folder = registers_folder(p)
        if folder.is_dir():  # a copy of the registers read once: each context says its own state's date
            ctx.registers = copy.copy(cached("registres", load_registers, folder,
                                             tuple(sorted(ref.sirens())) if ref.known else None, folders=(folder,)))
            ctx.registers.periode = f"au {ctx.date_obs}"
            ctx.registers.limite = pd.Timestamp(p.observation_date)
    if "childcare" in reads:
        ctx.childcare = cached("childcare", load_childcare, p.opendata_dep_dir, folders=(p.opendata_dep_dir,))
        if ctx.childcare is None and not p.demo and p.reference_dir is not None:
            ctx.childcare = cached("national_childcare", national_childcare, Path(p.reference_dir), p.departement, ref,
                                   folders=(p.reference_dir,))
    return ctx


def save_prepared(ctx: Context, folder: Path) -> Path:
    """The checked context of one chapter, written for its kernel (the build's private folder): the
    kernel reads it back instead of parsing and checking the same files again."""
    import pickle

    path = Path(folder) / f"contexte-{ctx.chapter}.pickle"
    page, ctx.page = ctx.page, None
    try:
        with open(path, "wb") as f:
            pickle.dump(ctx, f, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        ctx.page = page
    return path


def _load_prepared(path: str, chapter: str, resolved: Resolved) -> Context | None:
    """The context prepared by `rapport build`, if it is for this chapter and these very parameters."""
    import pickle

    try:
        with open(path, "rb") as f:
            ctx = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    if not isinstance(ctx, Context) or ctx.chapter != chapter or ctx.resolved.params != resolved.params:
        return None
    ctx.resolved = resolved
    ctx.page = Page(chapter, illustrative=bool(ctx.cafdata is not None and ctx.cafdata.illustrative),
                    caf=resolved.params.caf_name)
    return ctx


def open_chapter(chapter: str, year: int, departement: str | None = None, params_file: str | None = None,
                 overrides: dict[str, Any] | None = None, prepared: str | None = None) -> Context:
    """Resolve the parameters exactly as `rapport build` does, then load the chapter's data — or take
    the context that `rapport build` checked before starting the kernel (`prepared`), when it matches."""
    resolved = resolve(year, departement, params_file, overrides)
    if prepared:
        ctx = _load_prepared(prepared, chapter, resolved)
        if ctx is not None:
            return ctx
    return load_for(chapter, resolved.params, resolved)
