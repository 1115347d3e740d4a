"""The annual build: checked parameters and data -> Papermill -> HTML -> PDF, published
atomically into the output folder (a failed or interrupted build leaves what was published
untouched; see sortie.py for the output folder, interruption.py for signals)."""
from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from helpers import config, fmt, interruption, sortie
from helpers.chapters.context import Context, load_for, registers_folder
from helpers.data.cafdata import non_localised
from helpers.errors import DataError, Problem, RapportError, display_path
from helpers.params import Resolved, describe
from helpers.report import annexes

log = logging.getLogger("rapport")

KERNEL = "python3"


class ChapterFailed(RapportError):
    pass


@dataclass
class Checked:
    """Everything loaded and checked before any kernel starts."""

    contexts: dict[str, Context]
    computed: dict[str, float] = field(default_factory=dict)
    illustrative: set[str] = field(default_factory=set)  # computed values reproduced by construction
    gap_notes: dict[str, str] = field(default_factory=dict)  # what the data say of a gap to a published figure
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check(resolved: Resolved, chapters: list[str] | None = None) -> Checked:
    """Load and check every input the chapters need; collect all problems, then raise."""
    from helpers.chapters import cooperation, ctg, portrait
    p = resolved.params
    chapters = chapters or list(p.chapters)
    problems: list[Problem] = []
    contexts: dict[str, Context] = {}
    for ch in chapters:
        try:
            contexts[ch] = load_for(ch, p, resolved)
        except DataError as exc:
            for prob in exc.problems:
                if str(prob) not in {str(x) for x in problems}:
                    problems.append(prob)
    if problems:
        raise DataError(problems)
    out = Checked(contexts)
    for ch, ctx in contexts.items():
        out.files += list(ctx.reference.files)
        if ctx.geo is not None:
            out.files += ctx.geo.files
        if ctx.series is not None:
            out.files += list(ctx.series.files)
        if ctx.childcare is not None:
            out.files.append(ctx.childcare.path)
        if ch == "portrait":
            out.files += ctx.cafdata.files
            out.computed.update(portrait.kept_values(ctx))
            out.illustrative |= portrait.illustrative_keys(ctx)
            out.gap_notes.update(portrait.gap_notes(ctx))
        elif ch == "ctg" and ctg.disponible(ctx):
            out.files += list(ctx.registers.files)
            out.computed.update(ctg.kept_values(ctx))
            out.illustrative |= ctg.illustrative_keys(ctx)
        elif ch == "cooperation" and cooperation.disponible(ctx):
            out.files += list(ctx.registers.files)
            out.computed.update(cooperation.kept_values(ctx))
            out.illustrative |= cooperation.illustrative_keys(ctx)
        elif ch in ("ctg", "cooperation"):
            out.notes.append(f"pas de registre pour le département {p.departement} ({display_path(registers_folder(p))})")
    for n in dict.fromkeys(str(x) for c in contexts.values() for x in c.geo_problems):
        out.notes.append(f"contours inutilisables, cartes omises : {n}")
    out.files = sorted(set(out.files))
    return out


def _kernel_env() -> None:
    """Papermill starts the `python3` kernel with this environment's own interpreter."""
    bindir = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(bindir):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def notebook_parameters(resolved: Resolved, params_file: Path | None, overrides: dict) -> dict:
    """What Papermill injects: the same inputs as the command line, with absolute paths, so
    that every chapter resolves exactly the same parameters."""
    from helpers.params import PATH_KEYS
    ov = {}
    for k, v in overrides.items():
        ov[k] = str(getattr(resolved.params, k)) if k in PATH_KEYS and v not in (None, "") else v
    ov = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in ov.items()}
    return {"year": resolved.params.year, "departement": resolved.params.departement,
            "params_file": str(Path(params_file).resolve()) if params_file else None, "overrides": ov}


class Kernels:
    """The kernels of one build and their private folder (tempfile.mkdtemp): connection files and IPC sockets
    live there, never in the project, so that any number of builds run at once from one checkout, and from a
    read-only one. `close()` stops any kernel still running (a build interrupted mid-chapter) and removes the
    folder; the folders of builds killed outright (SIGKILL) are removed by the next build."""

    PREFIX = "rapport-noyaux-"

    def __init__(self) -> None:
        self.clean_stale()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-"))
        if len(os.fsencode(self.dir)) > 90:  # a Unix socket path is at most 107 bytes: "<dir>/k0123abcd-ipc-5"
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = Path(tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-", dir="/tmp"))
        sortie.ecrire_marque(self.dir)
        self.processes: list = []

    @classmethod
    def clean_stale(cls) -> None:
        base = Path(tempfile.gettempdir())
        for d in base.glob(f"{cls.PREFIX}*"):
            info = sortie.lire_marque(d) if d.is_dir() and not d.is_symlink() else None
            if info is not None and not sortie.vivant(info):
                shutil.rmtree(d, ignore_errors=True)

    def manager_class(self):
        return _kernel_manager_class(self.dir, self.processes)

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:  # the kernel leads its own process group (jupyter_client's start_new_session)
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for proc in self.processes:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def _kernel_manager_class(folder: Path, started: list | None = None):
    """Kernels talk to Papermill over local IPC sockets rather than TCP ports: nothing is
    exposed on the network, and ipykernel no longer warns about unencrypted TCP.

    The connection file and the sockets (`ip` is a path prefix for the ipc transport) go into `folder`, with a
    name of their own: by default jupyter_client names the sockets `kernel-ipc-N` in the working folder (the
    notebooks), where two builds collide and a read-only checkout fails. `started` receives each kernel's process."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self):
            return "ipc"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            stem = folder / f"k{uuid.uuid4().hex[:8]}"
            self.connection_file = f"{stem}.json"
            self.ip = f"{stem}-ipc"

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            await super()._async_launch_kernel(kernel_cmd, **kw)
            proc = getattr(self.provisioner, "process", None)
            if started is not None and proc is not None:
                started.append(proc)

    return IPCKernelManager


def execute(chapter: str, src: Path, dst: Path, parameters: dict, kernels: Kernels | None = None) -> None:
    """Run one chapter's notebook with Papermill; `kernels`: the build's (else a private folder for this call)."""
    if kernels is None:
        own = Kernels()
        try:
            return execute(chapter, src, dst, parameters, own)
        finally:
            own.close()

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    _kernel_env()
    try:
        pm.execute_notebook(str(src), str(dst), parameters=parameters, kernel_name=KERNEL,
                            cwd=str(config.NOTEBOOKS_DIR), progress_bar=False, log_output=False,
                            kernel_manager_class=kernels.manager_class())
    except PapermillExecutionError as exc:
        # Number the cell as in the source notebook: Papermill inserted its injected-parameters cell.
        index = exc.cell_index
        try:
            import nbformat

            cells = nbformat.read(dst, as_version=4).cells
            injected = next((i for i, c in enumerate(cells)
                             if "injected-parameters" in c.metadata.get("tags", [])), None)
            if injected is not None and injected < index:
                index -= 1
        except Exception:  # the partial notebook is only used to refine the cell number
            pass
        raise ChapterFailed(
            f"Le chapitre « {chapter} » a échoué à la cellule {index + 1} de {src.name} : "
            f"{exc.ename} : {exc.evalue}\nNotebook partiel enregistré : {dst}")


def _method_items(checked: Checked, resolved: Resolved) -> list[tuple[str, str]]:
    import html

    p = resolved.params
    items = []
    ctx = checked.contexts.get("portrait")
    if ctx is not None:
        d = ctx.cafdata
        for ds in (d.dep, d.epci, d.com):
            if ds is None:
                continue
            months = ds.months()
            what = {"s_ben_dep": "département, mensuel, effectifs exacts",
                    "s_ben_epci_f": "EPCI, décembre, effectifs arrondis à 5",
                    "s_ben_com_f": "commune, décembre, effectifs arrondis à 5"}[ds.name]
            extra = ""
            if ds.duplicates_dropped:
                extra += f" ; {fmt.pluriel(ds.duplicates_dropped, 'ligne en double à l’identique écartée', 'lignes en double à l’identique écartées')}"
            if ds.technical:
                shown = ", ".join(f"{fmt.mois_annee(t.month)}{f' (code {t.code})' if t.code else ''} : "
                                  f"{fmt.nombre(t.value)} à côté de {fmt.nombre(t.kept)}" for t in ds.technical[:5])
                more = f", et {len(ds.technical) - 5} autres" if len(ds.technical) > 5 else ""
                extra += (f" ; {fmt.pluriel(len(ds.technical), 'ligne technique écartée', 'lignes techniques écartées')}"
                          f" (même mois et même code que la ligne réelle, gardée : {html.escape(shown)}{more})")
            items.append((f"Cafdata {ds.name}",
                          f"{what} ; de {fmt.mois_annee(months[0])} à {fmt.mois_annee(months[-1])} ; fichier "
                          f"{html.escape(ds.path.name)}{extra}."
                          + (" <strong>Jeu de démonstration : chiffres illustratifs.</strong>" if d.illustrative else "")))
        if d.family is not None:
            items.append(("Configurations familiales", "extrait interne de la Caf (isolé, couple, monoparent ; nombre "
                          f"d’enfants), fichier {html.escape(d.family.path.name)}"
                          + (" ; <strong>extrait illustratif</strong> : la part des foyers sans enfant et la figure "
                             "qui en viennent portent la mention « Données illustratives »."
                             if d.family.illustrative or d.illustrative else ".")))
        unlocated = non_localised(d, p.year)
        items.append(("Arrondis et secret statistique",
                      "Dans les fichiers communaux et intercommunaux de Cafdata, chaque effectif est arrondi à 5 ; "
                      "une somme de communes diffère donc du total départemental exact. Les lignes sans code commune "
                      "regroupent les allocataires non localisés de toute la France : elles ne sont pas comptées "
                      "dans les totaux du département"
                      + (f" ({fmt.nombre(unlocated)} foyers en décembre {p.year} dans le fichier lu)." if unlocated else ".")))
        if ctx.series is not None:
            s = ctx.series
            items.append(("Allocations familiales et complément familial",
                          f"Cafdata {' et '.join(s.datasets)}, décembre de chaque année, somme des modalités de "
                          f"majoration ; région : départements de {html.escape(s.region_name)} ; France : les "
                          f"{s.n_departements} départements du fichier"
                          + (f" ; {fmt.pluriel(s.dropped, 'ligne technique écartée', 'lignes techniques écartées')} "
                             "(valeur 1 ou 2 à côté de la ligne réelle)" if s.dropped else "") + "."))
        items.append(("Géographie", "Les données de décembre N sont localisées sur la géographie communale du "
                      "1<sup>er</sup> janvier N+1 : les anciennes communes sont rattachées à la commune nouvelle. Quand "
                      "un fichier est déjà établi sur une géographie plus récente, les contours et les populations des "
                      "communes fusionnées depuis sont regroupés de la même façon sur la carte."))
    any_ctx = next(iter(checked.contexts.values()))
    epci, used = any_ctx.reference.epci_year(p.year)
    if not epci.empty:
        items.append(("Populations", f"Population municipale des EPCI en vigueur en {used} (recensement "
                      f"{used - 3}), {fmt.nombre(int(epci.population_municipale.sum()))} habitants ; source : "
                      f"{html.escape(epci.source.iloc[0])}."))
    items.append(("Définitions", "Foyer allocataire : foyer dont au moins un membre perçoit une prestation de la "
                  "Caf au titre du mois ; personnes couvertes : allocataires, conjoints, enfants et autres personnes "
                  "à charge ; taux de couverture : personnes couvertes rapportées à la population municipale. "
                  "CTG en vigueur : convention signée dont la période couvre le 31 décembre ; poste en cours : poste "
                  "commencé au plus tard le 31 décembre et non terminé avant."))
    if any(c.registers is not None for c in checked.contexts.values()):
        items.append(("Registres de la Caf", "Conventions territoriales globales, postes de coopération et rencontres "
                      f"du réseau : {html.escape(display_path(registers_folder(p)))} (colonne « source » de chaque ligne)."))
    for n in checked.notes:
        items.append(("Registres", html.escape(n)))
    broken = next((c.geo_problems for c in checked.contexts.values() if c.geo_problems), None)
    if broken:
        items.append(("Cartes", "Les contours fournis n’ont pas pu être utilisés ; les cartes sont omises : "
                      + html.escape("; ".join(str(x) for x in broken[:5])) + "."))
    ctg_ctx = checked.contexts.get("ctg")
    if ctg_ctx is not None and ctg_ctx.childcare is not None:
        items.append(("Petite enfance", f"Taux de couverture global {ctg_ctx.childcare.year} : places d’accueil (accueil "
                      "collectif, assistantes maternelles, école dès 2 ans, garde à domicile) pour 100 enfants de moins "
                      "de 3 ans ; Cnaf, Cafdata (txcouv_pe_epci, txcouv_pe_nat)."))
    return items


def _downloads(resolved: Resolved) -> str:
    """Manifest entries of the fetched cache(s) the data come from, if any."""
    from helpers.data.fetch import read_manifest
    seen, entries = set(), []
    for folder in (resolved.params.cafdata_dir, resolved.params.geo_dir):
        for e in (read_manifest(folder) or []) if folder is not None else []:
            if e.get("fichier") not in seen:
                seen.add(e.get("fichier"))
                entries.append(e)
    return annexes.downloads(entries) if entries else ""


def _inputs(resolved: Resolved, params_file: Path | None) -> list[tuple[str, Path | None]]:
    """Everything a build reads: the output may not be, contain, or be inside any of these."""
    p = resolved.params
    return [("dossier des paramètres", config.PARAMS_DIR), ("dossier des notebooks", config.NOTEBOOKS_DIR),
            ("dossier du code (paquet helpers)", config.PACKAGE_DIR), ("dossier des données (data_dir)", p.data_dir),
            ("dossier des exports Cafdata (cafdata_dir)", p.cafdata_path),
            ("dossier des contours (geo_dir)", p.geo_dir),
            ("dossier des registres (registers_dir)", p.registers_dir),
            ("dossier de référence (reference_dir)", p.reference_dir),
            ("fichier de paramètres (--params)", Path(params_file) if params_file else None)]


def build(resolved: Resolved, out: Path, params_file: Path | None, overrides: dict,
          chapters: list[str] | None = None, formats: list[str] | None = None) -> list[Path]:
    from helpers.report import assemble as publish
    t0 = time.monotonic()
    started = dt.datetime.now(dt.timezone.utc)
    p = resolved.params
    chapters = chapters or list(p.chapters)
    formats = formats or list(p.formats)
    # The output must be the report's own (absent, empty, or a report folder): refused before anything runs.
    out = sortie.verifier(out, _inputs(resolved, params_file), racine=config.ROOT)
    log.info("Paramètres : %s", "; ".join(f"{k}={v} [{o}]" for k, v, o in describe(resolved)))

    checked = check(resolved, chapters)  # raises DataError before any kernel starts
    sortie.nettoyer_abandons(out)
    staging = sortie.preparer(out, annee=p.year)
    parameters = notebook_parameters(resolved, params_file, overrides)
    built = []
    kernels = None
    try:
        (staging / "notebooks").mkdir()
        kernels = Kernels()
        for ch in chapters:
            name = config.CHAPTERS[ch]
            dst = staging / "notebooks" / name
            log.info("Chapitre « %s » : exécution de %s", ch, name)
            try:
                execute(ch, config.NOTEBOOKS_DIR / name, dst, parameters, kernels)
            except ChapterFailed as exc:
                with interruption.differe():
                    failed = sortie.garder_echec(staging, out)
                raise ChapterFailed(str(exc).replace(str(staging), str(failed)) +
                                    f"\nRien n’a été publié dans {out}.") from None
            ctx = checked.contexts[ch]
            illus = (ctx.cafdata.illustrative if ch == "portrait" else
                     bool(ctx.registers and any(ctx.registers.illustrative.values())))
            built.append(publish.chapter_from_notebook(ch, dst, illus))

        meta = publish.Meta(p.year, p.caf_name, p.report_title, fmt.date_longue(p.observation_date),
                            any(c.illustrative for c in built) or bool(checked.illustrative))
        ann = [("annexe-sources", "Annexe 1 — Sources et méthode",
                annexes.sources(_method_items(checked, resolved) + annexes.omissions(checked.contexts))
                + annexes.embedded(resolved.params, checked.files)
                + _downloads(resolved)),
               ("annexe-publies", "Annexe 2 — Chiffres publiés et chiffres recalculés",
                annexes.published(resolved, checked.computed, checked.illustrative, checked.gap_notes))]
        duration = time.monotonic() - t0
        prov = annexes.Provenance.collect(resolved, checked.files, started, duration, checked.contexts)
        ann.append(("annexe-provenance", "Annexe 3 — Provenance", prov.summary_html()))
        prov.write(staging)  # the technical detail, beside the report: provenance.html, provenance.json
        full, pages = publish.assemble(meta, built, ann)
        written = []
        if "html" in formats:
            target = staging / f"rapport-{p.year}.html"
            target.write_text(full, encoding="utf-8")
            written.append(target)
            for name, text in pages.items():
                (staging / name).write_text(text, encoding="utf-8")
                written.append(staging / name)
        if "pdf" in formats:
            log.info("PDF : mise en page avec WeasyPrint")
            publish.write_pdf(full, staging / f"rapport-{p.year}.pdf", staging)
            written.append(staging / f"rapport-{p.year}.pdf")
        kernels.close()
        kernels = None
    except BaseException as exc:
        with interruption.differe():  # a second signal does not cut the cleanup short
            if kernels is not None:
                kernels.close()
                kernels = None
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, interruption.Interrompu):
            exc.detail = (f"noyaux arrêtés, dossier de construction supprimé{sortie.ESP}; rien n’a été publié, "
                          f"{sortie.g(display_path(out))} n’a pas changé.")
        raise
    try:
        with interruption.differe(publication=True):  # a signal now waits until the report is published
            sortie.publier(staging, out)
            sortie.retirer_echec(out)
    except interruption.Interrompu as exc:
        exc.detail = f"le rapport a d’abord été publié en entier dans {sortie.g(display_path(out))}."
        raise
    log.info("Terminé en %s s", fmt.nombre(time.monotonic() - t0, 1))
    return [out / w.relative_to(staging) for w in written]
