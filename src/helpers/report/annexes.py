"""Annexes computed at build time: sources and method, published vs computed figures,
provenance of the build."""
from __future__ import annotations

import datetime as dt
import functools
import html
import importlib.metadata as md
import platform
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from helpers import config, fmt
from helpers.cache import sha256_file
from helpers.params import Resolved, describe
from helpers.report.templating import macro, render

PACKAGES = ["pandas", "numpy", "matplotlib", "seaborn", "papermill", "nbconvert", "weasyprint", "pydantic",
            "pandera", "babel", "geopandas"]


def _fmt_value(v: float, kind: str) -> str:
    if v is None:
        return "–"
    return {"part": lambda x: fmt.pourcent(x, 1), "etp": lambda x: fmt.nombre(x, 1),
            "euros": lambda x: f"{fmt.nombre(x)}{fmt.NNBSP}€"}.get(kind, fmt.nombre)(v)


def _decimals(x: float, most: int = 2) -> int:
    """The fewest decimals that write `x` exactly (up to `most`)."""
    return next((d for d in range(most + 1) if abs(round(x, d) - x) < 1e-9), most)


def as_published(v: float, kind: str) -> str:
    """A published figure as the report printed it: « 96 % », « 48,6 », « environ 1,1 million
    d’euros » (a round amount was a rounded one), never with decimals it did not have."""
    if v is None:
        return "–"
    if kind == "part":
        return fmt.pourcent(v, _decimals(100 * v, 1))
    if kind == "euros" and abs(v) >= 1e6 and v % 100_000 == 0:
        return f"environ {fmt.montant_long(v, _decimals(v / 1e6, 1))}"
    if kind == "euros":
        return f"{fmt.nombre(v)}{fmt.NNBSP}€"
    return fmt.nombre(v, _decimals(v, 1))


def breakable(text: str, kind: str = "somme") -> str:
    """Escaped text with break opportunities (<wbr>) only where a reader expects them: every 16
    characters of a checksum, after the separators of an address. A long identifier then never
    wraps a single character onto a line of its own."""
    if kind == "somme":
        return "<wbr/>".join(html.escape(text[i:i + 16]) for i in range(0, len(text), 16))
    return "".join(html.escape(p) + ("<wbr/>" if re.fullmatch(r"[/?&=_.-]", p) else "")
                   for p in re.split(r"([/?&=_.-])", text) if p)


def _agrees(p: float, c: float, kind: str) -> bool:
    """The recomputed value, written with the published figure's own precision, reads the same."""
    if kind == "part":
        d = _decimals(100 * p, 1)
        return fmt.pourcent(p, d) == fmt.pourcent(c, d)
    if kind == "euros" and abs(p) >= 1e6 and p % 100_000 == 0:  # « environ 1,1 M€ »
        return round(c / 1e5) == round(p / 1e5)
    return fmt.nombre(p, _decimals(p, 1)) == fmt.nombre(c, _decimals(p, 1))


def _cause(key: str, p: float, c: float | None, kind: str, illustrative: set[str], notes: dict[str, str]) -> str:
    """What the data support about a gap, or « cause inconnue »; « reproduit par construction » only for a
    value read from illustrative rows built to match (and that does match)."""
    if c is None:
        return "non recalculé dans cette construction"
    if key in illustrative:
        if _agrees(p, c, kind):
            return ("reproduit par construction : calculé sur des lignes illustratives construites pour retrouver "
                    "ce chiffre, leur accord ne vérifie rien")
        return ("calculé en partie sur des lignes illustratives, qui ne retrouvent pas le chiffre publié : "
                + (notes[key] if key in notes else "cause inconnue"))
    if key in notes:
        return notes[key]
    return "identique au chiffre publié" if _agrees(p, c, kind) else "cause inconnue"


def _published_rows(keys, pub, computed, notes, labels, illustrative) -> list[list[str]]:
    rows = []
    for key in keys:
        p = pub[key]
        label, kind = labels.get(key, (key, "nombre"))
        c = computed.get(key)
        gap = "–" if c is None else (fmt.points(c - p) if kind == "part" else
                                      fmt.variation(c - p, 1 if kind == "etp" else 0)
                                      + (f"{fmt.NNBSP}€" if kind == "euros" else ""))
        rel = "–" if c is None or not p or kind == "part" else fmt.variation((c - p) / p, 1, pourcentage=True)
        rows.append([label, as_published(p, kind), _fmt_value(c, kind), gap, rel,
                     _cause(key, p, c, kind, illustrative, notes)])
    return rows


def _wordings(resolved: Resolved, computed: dict[str, float], labels) -> list[list[str]]:
    """The published text's wordings that this edition changes (« formulations » of the published figures'
    file): the published words, the words the recomputed value supports, and why."""

    from helpers.indicators.portrait import couverture_mots
    from helpers.params import published_file

    p = resolved.params
    path = published_file(p.reference_dir, p.departement, p.year)
    if path is None:
        return []
    entries = (_yaml(path) or {}).get("formulations") or []
    words = {"part_habitants_caf": couverture_mots}  # the indicators whose wording the report derives
    rows = []
    for e in entries:
        key, text = e.get("indicateur"), e.get("publie")
        if key not in computed or key not in words or not text:
            continue
        c = computed[key]
        label, kind = labels.get(key, (key, "part"))
        now = words[key](c)
        shown = f"{now} ({_fmt_value(c, kind).replace(',0', '') if kind != 'part' else fmt.pourcent(c)})" if now \
            else _fmt_value(c, kind)
        rows.append([label, f"« {text} »", f"« {shown} »",
                     "formulation changée : le chiffre recalculé ne permet plus d’écrire celle du texte publié"
                     if now != text else "formulation reprise"])
    return rows


def published(resolved: Resolved, computed: dict[str, float], illustrative: set[str] | None = None,
              notes: dict[str, str] | None = None, labels: dict[str, tuple[str, str]] | None = None,
              warnings: list[str] | None = None) -> str:
    """Every published figure of the year's edition against its recomputed value, the gap and the cause the
    data support (or « cause inconnue »); then the published wordings this edition changes; then `warnings`
    (what the build's checks say of the data behind these figures), one line each."""
    pub = resolved.params.published or {}
    illustrative = illustrative or set()
    notes = notes or {}
    labels = labels or {}  # kept value -> (label, kind), declared by each chapter (chapters.registry)
    return str(macro("annexes.html.j2", "published")(
        resolved.params.year, resolved.params.departement, bool(pub),
        _published_rows(list(pub), pub, computed, notes, labels, illustrative),
        _wordings(resolved, computed, labels) if pub else [], list(warnings or [])))


def _yaml(path: Path):
    """A YAML file of the project (SOURCES.yaml, sigles.yaml, the published figures), parsed once per content
    while it does not change (a batch, the portraits: read for every report), a copy each time."""
    import copy

    st = Path(path).stat()
    return copy.deepcopy(_parsed(str(path), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=32)
def _parsed(path: str, mtime_ns: int, size: int):
    import yaml

    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def embedded(params, files: list[Path]) -> str:
    """The entries of data/opendata/SOURCES.yaml for the embedded open-data files this build read."""
    root = params.opendata_dir
    if root is None or not (Path(root) / "SOURCES.yaml").is_file():
        return ""
    entries = (_yaml(Path(root) / "SOURCES.yaml") or {}).get("fichiers", [])
    read = {Path(f).resolve() for f in files}
    used = [e for e in entries if (Path(root) / e["fichier"]).resolve() in read]
    if not used:
        return ""
    return str(macro("annexes.html.j2", "embedded")(used))


@dataclass
class MethodFacts:
    """What Annexe 1 (sources and method) says of this build's data, as facts: the sentences are in
    templates/rapport/methode.html.j2. Months are `AAAA-MM` strings or dates."""

    year: int
    # Cafdata exports read: name, file, first and last month, duplicates (identical rows dropped),
    # technical (rows dropped beside the real one: month, code, value, kept)
    cafdata: list[dict] = field(default_factory=list)
    demo: bool = False  # the Cafdata exports are the demonstration set
    family: dict | None = None  # internal extract of family configurations: file, illustrative
    portrait: bool = False  # the portrait was built: rounding, non-localised rows, geography
    unlocated: int = 0  # non-localised households in December of the year, in the file read
    series: dict | None = None  # family allowances series: datasets, region, departements, dropped
    populations: dict | None = None  # EPCI populations: year in force, census, total, source
    registers: str | None = None  # the registers' folder, as published
    notes: list[str] = field(default_factory=list)  # what the register checks say
    childcare_year: int | None = None  # year of the childcare coverage rates
    omitted: list[str] = field(default_factory=list)  # optional content left out (see omissions)
    caf_name: str = ""  # the Caf that keeps the registers


def omissions(contexts: dict) -> list[str]:
    """Optional content this edition leaves out: « cartes », « configurations-familiales »; the sources
    annex says each and why (the chapter itself moves on without an apologetic sentence). `contexts`:
    chapter -> its context."""
    items = []
    ctx = contexts.get("portrait")
    if ctx is not None and ctx.geo is None:
        items.append("cartes")
    if ctx is not None and ctx.cafdata is not None and ctx.cafdata.family is None:
        items.append("configurations-familiales")
    return items


def sources(facts: MethodFacts) -> str:
    """The technical detail of the sources and method (files, months, rows left out), published in
    provenance.html."""
    return render("methode.html.j2", m=facts)


_DATASETS = {  # Cafdata dataset -> what it is, what was done with it, in the reader's words
    "s_ben_dep": ("Allocataires et prestations, par département (chaque mois)",
                  "Effectifs exacts ; le rapport retient le mois de décembre de chaque année."),
    "s_ben_epci_f": ("Allocataires et prestations, par intercommunalité (EPCI)",
                     "Effectifs arrondis à 5 par la Cnaf (secret statistique)."),
    "s_ben_com_f": ("Allocataires et prestations, par commune",
                    "Effectifs arrondis à 5 par la Cnaf (secret statistique) : additionnées, les communes ne "
                    "redonnent pas exactement le total du département. Les communes fusionnées sont regroupées "
                    "dans la commune nouvelle."),
}


def sources_rows(m: MethodFacts) -> list[list]:
    """The rows of Annexe 1's table: data, producer, period, what was done."""
    from markupsafe import Markup, escape

    rows = []
    demo = Markup(" <strong>Jeu de démonstration : chiffres illustratifs.</strong>") if m.demo else ""
    for i, ds in enumerate(m.cafdata):
        name, done = _DATASETS.get(ds["name"], (ds["name"], ""))
        first, last = fmt.mois_annee(str(ds["first"])[:7]), fmt.mois_annee(str(ds["last"])[:7])
        if ds["name"] != "s_ben_dep" and m.unlocated and i == len(m.cafdata) - 1:
            done += (f" Les allocataires que la Cnaf ne rattache à aucune commune ({fmt.nombre(m.unlocated)} foyers "
                     f"en décembre {m.year}) ne sont pas comptés dans le département.")
        rows.append([name, "Cnaf (Cafdata, data.caf.fr)", last if first == last else f"{first} à {last}",
                     escape(done) + demo if demo else done])
    if m.series:
        national = m.series.get("france_groupes")
        rows.append([("Allocations familiales et complément familial, tous les départements ; RSA, prime d’activité "
                      "et aides au logement, France") if national else
                     "Allocations familiales et complément familial, tous les départements", "Cnaf (Cafdata)",
                     "décembre de chaque année",
                     f"Comparaison du département avec la région {m.series['region']} (somme de ses départements"
                     + (", allocations familiales et complément familial seulement" if national else "")
                     + f") et la France ({m.series['departements']} départements)."])
    if m.family:
        note = (Markup(" ; <strong>extrait illustratif</strong> : ce qui en vient porte la mention « Données "
                       "illustratives ».") if m.family.get("illustrative") else ".")
        rows.append(["Configurations familiales des allocataires", "Caf (extrait interne)", f"décembre {m.year}",
                     escape("Part des foyers isolés, en couple, monoparentaux, selon le nombre d’enfants") + note])
    if m.populations:
        p = m.populations
        rows.append(["Populations légales des communes et des EPCI", "Insee, DGCL",
                     f"en vigueur en {p['year']} (recensement {p['census']})",
                     f"Nombre d’habitants ({fmt.nombre(p['total'])} dans le département), qui sert à calculer "
                     "les taux."])
    if m.childcare_year:
        rows.append(["Accueil du jeune enfant", "Cnaf (Cafdata)", str(m.childcare_year),
                     "Places d’accueil pour 100 enfants de moins de 3 ans, par EPCI, pour le département, la région "
                     "et la France."])
    if m.portrait and "cartes" not in m.omitted:
        rows.append(["Contours des communes et des EPCI", "IGN (Admin Express), DGCL", "géographie communale en vigueur",
                     "Fonds des cartes, simplifiés."])
    if m.registers:
        rows.append(["Conventions territoriales globales, postes de coopération, rencontres du réseau",
                     f"{m.caf_name or 'la Caf'} (registres)", f"au {fmt.date_longue(dt.date(m.year, 12, 31))}",
                     "Une convention est comptée si elle est en vigueur au 31 décembre ; un poste, s’il est en cours "
                     "à cette date."])
    return rows


def sources_reader(facts: MethodFacts) -> str:
    """Annexe 1, sources and method, in the reader's words: data, producer, period, what was done;
    the definitions. No file name, checksum or format (those are in provenance.html)."""
    return render("sources.html.j2", m=facts, rows=sources_rows(facts))


def acronyms() -> dict[str, str]:
    """The reference table of the acronyms the report may use (templates/rapport/sigles.yaml)."""
    return _yaml(config.TEMPLATES_DIR / "rapport" / "sigles.yaml")


def used_acronyms(texts: list[str], table: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The acronyms of `table` that the visible text of `texts` (HTML) uses, as whole words with their
    case, in French alphabetical order: (acronym, definition)."""
    table = acronyms() if table is None else table
    words: set[str] = set()
    for text in texts:  # the visible text: without style, script, comments and tags (their attributes)
        text = re.sub(r"<(style|script)\b.*?</\1\s*>|<!--.*?-->", " ", text, flags=re.S | re.I)
        words |= set(re.findall(r"\w+", html.unescape(re.sub(r"<[^>]*>", " ", text))))
    return sorted(((k, v) for k, v in table.items() if k in words), key=lambda kv: kv[0].lower())


def glossary(texts: list[str]) -> str:
    """The glossary of the acronyms this edition uses (empty when it uses none)."""
    rows = used_acronyms(texts)
    return str(macro("annexes.html.j2", "glossary")(rows)) if rows else ""


def downloads(entries: list[dict]) -> str:
    """The manifest of `rapport fetch`: where each open-data file came from, when, its checksum."""
    rows = [[e.get("fichier", ""), e.get("adresse", ""), e.get("date", ""), fmt.nombre(e.get("taille", 0)),
             e.get("sha256", "")] for e in entries]
    return str(macro("annexes.html.j2", "downloads")(rows))


def git_state() -> tuple[str, str]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or "inconnu"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=config.ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit, "oui" if dirty else "non"
    except (OSError, subprocess.SubprocessError):
        return "inconnu (pas de dépôt git)", "inconnu"


def public_path(path) -> str:
    """A path as it may be published: relative to the project, else only its last two parts (an
    output never shows a folder of the building machine)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(config.ROOT.resolve()))
    except (ValueError, OSError):
        return "…/" + "/".join(p.parts[-2:]) if p.is_absolute() else str(p)


_ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:[^\s/;,)\]\"'«»]+/)*[^\s/;,)\]\"'«»]*")


def public_text(text: str) -> str:
    """`text` with every absolute path replaced by its public form (see public_path)."""
    return _ABSOLUTE.sub(lambda m: public_path(m.group(0)) if len(m.group(0)) > 1 else m.group(0), str(text))


def _param_value(key: str, value) -> str:
    if value is None or value == "":
        return "(aucune)"
    if key == "published" and isinstance(value, dict):
        return f"{fmt.pluriel(len(value), 'chiffre publié', 'chiffres publiés')} (voir l’annexe 2 du rapport)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if key.endswith("_dir"):
        return public_path(value)
    return public_text(str(value))


@dataclass
class Provenance:
    """How one report was built. The board reads a short paragraph (Annexe 3); the technical detail
    (commit, parameters with their origin, every input with its SHA-256, software versions) is
    published beside the report, in provenance.html and provenance.json."""

    year: int
    caf_name: str
    started: dt.datetime
    duration_s: float
    commit: str
    dirty: str
    params: list[list[str]]  # parameter, value, origin
    files: list[list[str]]  # file, size, sha256
    versions: list[list[str]]  # software, version
    vintages: list[str]  # data vintages, in words

    @classmethod
    def collect(cls, resolved: Resolved, files: list[Path], started, duration_s: float,
                contexts: dict | None = None) -> Provenance:
        commit, dirty = git_state()
        versions = [["Python", platform.python_version()]]
        for p in PACKAGES:
            try:
                versions.append([p, md.version(p)])
            except md.PackageNotFoundError:
                pass
        params = [[k, _param_value(k, getattr(resolved.params, k)), public_text(o)] for k, _, o in describe(resolved)]
        rows = [[public_path(f), str(Path(f).stat().st_size), sha256_file(Path(f))] for f in sorted(set(files))]
        return cls(resolved.params.year, resolved.params.caf_name, started, duration_s, commit, dirty, params, rows,
                   versions, vintages(resolved.params.year, contexts or {}))

    @property
    def local(self):
        from zoneinfo import ZoneInfo

        return self.started.astimezone(ZoneInfo("Europe/Paris"))

    def summary_html(self) -> str:
        """The paragraph of the report: when, which version, which data; where the detail is."""
        short = self.commit[:12] if re.fullmatch(r"[0-9a-f]{40}", self.commit) else self.commit
        return str(macro("provenance.html.j2", "summary")(self, self.local, short))

    def detail_html(self) -> str:
        """The body of provenance.html."""
        files = [[f, fmt.nombre(int(size)), h] for f, size, h in self.files]
        return str(macro("provenance.html.j2", "detail")(self, self.local, files))

    def as_json(self) -> dict:
        return {"annee": self.year, "caf": self.caf_name, "construit_le": self.started.isoformat(timespec="seconds"),
                "duree_s": round(self.duration_s, 1), "commit": self.commit, "modifications_non_enregistrees": self.dirty,
                "millesimes": self.vintages,
                "parametres": [{"cle": k, "valeur": v, "origine": o} for k, v, o in self.params],
                "fichiers": [{"fichier": f, "taille": int(size), "sha256": h} for f, size, h in self.files],
                "logiciels": {k: v for k, v in self.versions}}

    def write(self, folder: Path, sources_detail: str = "") -> list[Path]:
        """provenance.html and provenance.json in the output folder. `sources_detail`: the technical
        detail of Annexe 1 (files, formats, checksums, re-publishers), which the report leaves out."""
        import json

        from helpers.report.assemble import standalone_page

        title = f"Provenance du rapport d’activité {self.year} — {self.caf_name}"
        body = self.detail_html()
        if sources_detail:
            body += ('<section id="sources-detail"><h2>Sources et méthode : détail technique</h2>'
                     + sources_detail + "</section>")
        page = standalone_page(title, body, heading=True,
                               links=[(f"rapport-{self.year}.html", "Rapport complet"),
                                      (f"rapport-{self.year}.html#annexe-sources", "Annexes")])
        out = [Path(folder) / "provenance.html", Path(folder) / "provenance.json"]
        out[0].write_text(page, encoding="utf-8")
        out[1].write_text(json.dumps(self.as_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return out


def vintages(year: int, contexts: dict) -> list[str]:
    """The data vintages of this build, in words, from what the chapters loaded."""
    out = []
    p = contexts.get("portrait")
    if p is not None and getattr(p, "cafdata", None) is not None:
        ys = [y for y in p.cafdata.years() if y <= year]
        span = f"décembre {ys[0]} à décembre {ys[-1]}" if len(ys) > 1 else f"décembre {year}"
        out.append(f"Cnaf, Cafdata : allocataires, {span}" + (" (jeu de démonstration)" if p.cafdata.illustrative else ""))
    ref = next((c.reference for c in contexts.values() if getattr(c, "reference", None) is not None), None)
    if ref is not None and getattr(ref, "known", False):
        out.append(f"DGCL : populations légales des EPCI en vigueur en {ref.epci_year(year)[1]}")
    c = contexts.get("ctg")
    if c is not None and getattr(c, "childcare", None) is not None:
        out.append(f"Cnaf : taux de couverture petite enfance {c.childcare.year}")
    if any(getattr(c, "registers", None) is not None for c in contexts.values()):
        out.append("Registres de la Caf (CTG, postes de coopération, rencontres du réseau) au "
                   f"{fmt.date_longue(dt.date(year, 12, 31))}")
    return out


def provenance(resolved: Resolved, files: list[Path], started, duration_s: float) -> str:
    """The report's provenance paragraph (kept for callers that do not publish the detail)."""
    return Provenance.collect(resolved, files, started, duration_s).summary_html()
