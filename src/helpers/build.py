"""The annual build: checked parameters and data -> Papermill -> HTML -> PDF, published
atomically into the output folder (a failed or interrupted build leaves what was published
untouched; see sortie.py for the output folder, interruption.py for signals)."""
from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from helpers import cache, config, fmt, interruption, sortie
from helpers.chapters import registry  # light: the chapters' modules are imported when first asked for
from helpers.errors import DataError, Problem, RapportError, display_path
from helpers.params import Resolved, describe

if TYPE_CHECKING:  # the data and report layers import pandas, geopandas, matplotlib (about 2 s): loaded only when
    from helpers.chapters.context import Context  # a build has something to do, never for an unchanged one
    from helpers.report.annexes import MethodFacts

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
    warnings: list[str] = field(default_factory=list)  # what the data checks report: said by check and build
    chapter_files: dict[str, list[Path]] = field(default_factory=dict)  # what each chapter reads: its cache key


def check(resolved: Resolved, chapters: list[str] | None = None) -> Checked:
    """Load and check every input the chapters need; collect all problems, then raise."""
    from helpers.chapters import registry
    from helpers.chapters.context import load_for, registre_a_remplir
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
        out.files += ctx.files()
        mod = registry.module(ch)
        if not mod.disponible(ctx):
            if "registers" in registry.spec(ch).reads and ctx.registers is None:
                note = registre_a_remplir(p, ch)
                if note not in out.notes:
                    out.notes.append(note)
            continue
        out.computed.update(mod.kept_values(ctx))
        out.illustrative |= mod.illustrative_keys(ctx)
        out.gap_notes.update(getattr(mod, "gap_notes", lambda c: {})(ctx))
    for w in dict.fromkeys(w for c in contexts.values() for w in c.warnings):
        out.warnings.append(w)
    out.files = sorted(set(out.files))
    out.chapter_files = {ch: chapter_inputs(ch, ctx) for ch, ctx in contexts.items()}
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
        self.closed = False  # chapters run in threads: a kernel started after close() is stopped at once

    @classmethod
    def clean_stale(cls) -> None:
        sortie.nettoyer_temporaires()  # this prefix and the other private folders of dead processes

    def manager_class(self):
        return _kernel_manager_class(self.dir, self.processes, self)

    def close(self) -> None:
        self.closed = True
        for proc in list(self.processes):
            if proc.poll() is None:  # the kernel leads its own process group (jupyter_client's start_new_session)
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for proc in list(self.processes):
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


def _kernel_manager_class(folder: Path, started: list | None = None, owner: Kernels | None = None):
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
            if owner is not None and owner.closed and proc is not None:  # the build is stopping: no new kernel
                _signal_group(proc.pid, signal.SIGKILL)

    return IPCKernelManager


def _forget_prepared(nb_path: Path) -> None:
    """The published notebook keeps every parameter but the path of the transient prepared context
    (a file of the build's private folder, gone once the build ends)."""
    import re

    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = re.sub(r'^prepared = ".*"$', "prepared = None  # contexte préparé par rapport build (fichier "
                                 "temporaire)", cell.source, flags=re.M)
    nbformat.write(nb, nb_path)


def execute(chapter: str, src: Path, dst: Path, parameters: dict, kernels: Kernels | None = None,
            on_cell=None, km=None) -> None:
    """Run one chapter's notebook with Papermill; `kernels`: the build's (else a private folder for this call);
    `on_cell(k, n)`: called as cell k of n starts (progress display); `km`: a kernel already started (and reset)
    by this thread, reused instead of starting one."""
    if kernels is None:
        own = Kernels()
        try:
            return execute(chapter, src, dst, parameters, own, on_cell)
        finally:
            own.close()

    import papermill as pm
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    _kernel_env()
    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # its English log lines: the failure is ours to tell
    first = len(kernels.processes)  # this chapter's kernel is the one started from now on
    hooks = {}
    if on_cell is not None:
        def started(cell, cell_index, **_):  # nbclient's hook; the count includes Papermill's parameters cell
            on_cell(cell_index + 1, total[0])
        total = [0]
        hooks["on_notebook_start"] = lambda notebook, **_: total.__setitem__(0, len(notebook.cells))
        hooks["on_cell_start"] = started
    try:
        if km is not None:  # started in NOTEBOOKS_DIR; no chdir, which would change every thread's folder
            hooks["km"] = km
        from helpers.narration import executable, restore_source

        # the Markdown cells' MyST expressions become calls of page.markdown (papermill runs code cells only):
        # that notebook, written in the kernels' private folder, is the one executed
        run_src = executable(src, Path(kernels.dir))
        try:
            pm.execute_notebook(str(run_src), str(dst), parameters=parameters, kernel_name=KERNEL,
                                cwd=None if km is not None else str(config.NOTEBOOKS_DIR), progress_bar=False,
                                log_output=False, kernel_manager_class=kernels.manager_class(), **hooks)
        finally:
            if run_src != src:
                restore_source(dst, src)
                run_src.unlink(missing_ok=True)
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
    except Exception as exc:
        # The kernel process was killed (OOM killer, kill -9) or crashed: DeadKernelError while a cell runs,
        # RuntimeError("Kernel died before replying to kernel_info") when it dies at start-up.
        died = isinstance(exc, DeadKernelError) or "Kernel died" in str(exc)  # also a warm kernel (km) killed
        if not (died or any(p.poll() not in (None, 0) for p in kernels.processes[first:])):
            raise
        raise ChapterFailed(f"Le chapitre « {chapter} » a échoué{fmt.NBSP}: le noyau Python qui exécutait "
                            f"{src.name} s’est arrêté brutalement (processus tué ou mémoire épuisée ?)."
                            f"\nNotebook partiel enregistré : {dst}") from None


def _method_facts(checked: Checked, resolved: Resolved) -> MethodFacts:
    """What Annexe 1 says of this build's data: datasets, months, rows left out, counts, vintages (the
    sentences are the report's: templates/rapport/methode.html.j2)."""
    from helpers.chapters.context import registers_folder
    from helpers.data.cafdata import non_localised
    from helpers.report import annexes

    p = resolved.params
    facts = annexes.MethodFacts(year=p.year, omitted=annexes.omissions(checked.contexts), caf_name=p.caf_name)
    ctx = checked.contexts.get("portrait")
    if ctx is not None:
        d = ctx.cafdata
        facts.portrait, facts.demo = True, bool(d.illustrative)
        for ds in (d.dep, d.epci, d.com):
            if ds is None:
                continue
            months = ds.months()
            facts.cafdata.append({
                "name": ds.name, "file": ds.path.name, "first": months[0], "last": months[-1],
                "duplicates": ds.duplicates_dropped,
                "technical": [{"month": t.month, "code": t.code, "value": t.value, "kept": t.kept}
                              for t in ds.technical]})
        if d.family is not None:
            facts.family = {"file": d.family.path.name, "illustrative": bool(d.family.illustrative or d.illustrative)}
        facts.unlocated = non_localised(d, p.year)
        if ctx.series is not None:
            s = ctx.series
            facts.series = {"datasets": list(s.datasets), "region": s.region_name,
                            "departements": s.n_departements, "dropped": s.dropped,
                            "france_groupes": s.france_groupes is not None}
    any_ctx = next(iter(checked.contexts.values()))
    epci, used = any_ctx.reference.epci_year(p.year)
    if not epci.empty:
        # legal populations in force in year N are those of the census of N - 3
        facts.populations = {"year": used, "census": used - 3, "total": int(epci.population_municipale.sum()),
                             "source": str(epci.source.iloc[0])}
    if any(c.registers is not None for c in checked.contexts.values()):
        facts.registers = display_path(registers_folder(p))
    facts.notes = [str(n) for n in checked.notes]
    ctg_ctx = checked.contexts.get("ctg")
    if ctg_ctx is not None and ctg_ctx.childcare is not None:
        facts.childcare_year = ctg_ctx.childcare.year
    return facts


def _downloads(resolved: Resolved) -> str:
    """Manifest entries of the fetched cache(s) the data come from, if any."""
    from helpers.data.fetch import read_manifest
    from helpers.report import annexes
    seen, entries = set(), []
    for folder in (resolved.params.cafdata_dir, resolved.params.geo_dir):
        for e in (read_manifest(folder) or []) if folder is not None else []:
            if e.get("fichier") not in seen:
                seen.add(e.get("fichier"))
                entries.append(e)
    return annexes.downloads(entries) if entries else ""


def input_folders(resolved: Resolved, params_file: Path | None) -> list[tuple[str, Path | None]]:
    """Everything a build reads: the output may not be, contain, or be inside any of these."""
    p = resolved.params
    return [("dossier des paramètres", config.PARAMS_DIR), ("dossier des notebooks", config.NOTEBOOKS_DIR),
            ("dossier du code (paquet helpers)", config.PACKAGE_DIR), ("dossier des données (data_dir)", p.data_dir),
            ("dossier des exports Cafdata (cafdata_dir)", p.cafdata_path),
            ("dossier des contours (geo_dir)", p.geo_dir),
            ("dossier des registres (registers_dir)", p.registers_dir),
            ("dossier de référence (reference_dir)", p.reference_dir),
            ("fichier de paramètres (--params)", Path(params_file) if params_file else None)]




def chapter_inputs(chapter: str, ctx: Context) -> list[Path]:
    """The files whose content a chapter's notebook depends on: part of its cache key."""
    from helpers.data.registers import FILES
    p = ctx.p
    files = list(ctx.reference.files)
    ref = Path(p.reference_dir)
    if ref.is_dir():  # small tables read by name here and there (départements, régions)
        files += [f for f in ref.iterdir() if f.is_file()]
    if ctx.geo is not None:
        files += ctx.geo.files
    elif p.geo_dir is not None and Path(p.geo_dir).is_dir():  # broken boundaries: a fix must re-run the chapter
        files += [f for f in Path(p.geo_dir).iterdir() if f.is_file()]
    if ctx.series is not None:
        files += list(ctx.series.files)
    if ctx.childcare is not None:
        files.append(ctx.childcare.path)
    if ctx.cafdata is not None:
        files += ctx.cafdata.files
    if ctx.registers is not None:
        # the registers the chapter's notebook reads (its SPEC): a changed posts register re-runs cooperation alone
        wanted = {FILES[k] for k in (registry.spec(chapter).registers or tuple(FILES))}
        files += [f for f in ctx.registers.files if Path(f).name in wanted]
    return sorted({Path(f).resolve() for f in files})


def _chapter_folders(chapter: str, p) -> list[Path]:
    """Folders whose listing is part of a chapter's key: a file added there may change what is read."""
    folders = [p.reference_dir, p.geo_dir]
    if chapter == "portrait":
        folders += [p.cafdata_dir, p.extraits_path, p.national_dir]
    else:
        folders.append(Path(p.registers_dir) / p.departement)
        if chapter == "ctg" and p.opendata_dep_dir is not None:
            folders += [p.opendata_dep_dir, Path(p.opendata_dep_dir) / "petite-enfance"]
    return [Path(f) for f in folders if f is not None]


class Written(list):
    """The files a build wrote (a list, as before), and what it did: `unchanged` (the message of a build with
    nothing to do), `reran` and `reused` (chapters executed, chapters taken from the cache), and `prose` (of
    `reused`: chapters whose prose alone changed, their outputs kept)."""

    def __init__(self, items=(), unchanged: str | None = None, reran=(), reused=(), contexts=None, prose=()):
        super().__init__(items)
        self.unchanged = unchanged
        self.reran = list(reran)
        self.reused = list(reused)
        self.prose = list(prose)
        self.contexts = contexts or {}  # chapter -> the context checked for this build (its values, its data)


@dataclass
class Report:
    """One report of a build or of a batch, and its state while it is built."""

    resolved: Resolved
    out: Path
    params_file: Path | None = None
    overrides: dict = field(default_factory=dict)
    chapters: list[str] | None = None
    formats: list[str] | None = None
    label: str = ""  # prefix of its progress lines in a batch ("2023 · ", "33/2023 · ")
    t0: float = 0.0
    started: dt.datetime | None = None
    parameters: dict = field(default_factory=dict)
    checked: Checked | None = None
    keys: dict[str, str] = field(default_factory=dict)
    prose_keys: dict[str, str] = field(default_factory=dict)  # the keys but for the notebooks' plain Markdown
    cache_keys: dict[str, str] = field(default_factory=dict)  # the cache's: a portrait's with its EPCI's rows
    key: str = ""
    staging: Path | None = None
    reused: list[str] = field(default_factory=list)
    prose: list[str] = field(default_factory=list)  # of `reused`: chapters whose prose alone changed (outputs kept)
    futures: dict = field(default_factory=dict)
    fingerprints: cache.Fingerprints | None = None
    store: cache.Cache | None = None

    def unit(self, what: str) -> str:
        return f"{self.label}{what}"


def _chapter_key(r: Report, chapter: str, files: list, prose: bool = False, rows: str | None = None) -> str:
    """The chapter's cache key; `prose`: its prose key, the same but for the notebook's plain Markdown
    (narration.code_digest), under which the last executed notebook of the same code is found. `rows`: the
    digest of the register rows a portrait reads (_territory_rows), in place of the register files."""
    notebook = config.NOTEBOOKS_DIR / registry.notebook(chapter)
    if rows is not None:
        from helpers.data.registers import FILES
        registers = {FILES[k] for k in registry.spec(chapter).registers or FILES}
        files = [f for f in files if Path(f).name not in registers]
    digest = None
    if prose:
        from helpers.narration import code_digest
        digest = code_digest(notebook)
    return cache.chapter_key(chapter, notebook, KERNEL, r.resolved.params.to_jsonable(), r.parameters,
                             [Path(f) for f in files], r.fingerprints, _chapter_folders(chapter, r.resolved.params),
                             notebook_digest=digest, rows=rows)


def _territory_rows(r: Report, chapter: str) -> str | None:
    """For a chapter that reads only its EPCI's rows of the registers (SPEC.registers_by_territory): the digest
    of those rows, all columns, every date; None for any other chapter (its key holds the register files)."""
    spec = registry.spec(chapter)
    ctx = r.checked.contexts[chapter]
    if not spec.registers_by_territory or ctx.registers is None:
        return None
    from helpers.data.registers import FILES
    siren = str(r.resolved.params.territoire)
    parts = []
    for name in spec.registers or tuple(FILES):
        frame = vars(ctx.registers).get(name)  # not through the attribute: that would count as a read (lineage)
        if frame is not None:
            mine = frame[frame.siren_epci.astype(str) == siren] if "siren_epci" in frame else frame
            parts.append([name, list(map(str, frame.columns)), mine.to_csv(index=False)])
    return cache.sha256_text(json.dumps(parts, ensure_ascii=False))


def _with_new_prose(r: Report, chapter: str) -> bytes | None:
    """The chapter's last executed notebook for the same code, data and parameters, with the notebook's current
    plain Markdown in it; None when there is none or when its cells no longer line up."""
    from helpers.narration import with_new_prose
    old = r.store.aliased(chapter, r.prose_keys[chapter])
    data = r.store.get(chapter, old) if old else None  # checked against its digest, as any entry
    return with_new_prose(data, config.NOTEBOOKS_DIR / registry.notebook(chapter)) if data else None


def _build_key(r: Report) -> str:
    p = r.resolved.params
    manifests = [Path(d) / n for d in (p.cafdata_dir, p.geo_dir) if d is not None
                 for n in ("manifest.json", "../manifest.json")]
    origins = [(k, str(v), o) for k, v, o in describe(r.resolved)]  # annex 3 lists each parameter's origin
    return cache.build_key({**r.keys, "origines": cache.sha256_text(repr(origins))}, r.formats, manifests,
                           r.fingerprints)


def _files_record(out: Path) -> Path:
    """Where the files read by the last build of `out` are listed (the cache beside it, not the report)."""
    folder = cache.folder_for(out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"fichiers-{Path(out).name}.json"


def _unchanged(r: Report) -> str | None:
    """The message of a build with nothing to do (the published report's record matches), else None."""
    if not (r.out.is_symlink() or r.out.is_dir()):
        return None
    record = cache.read_record(r.out)
    if record is None or record.get("formats") != r.formats or list(record.get("chapitres", {})) != r.chapters:
        return None
    if not cache.published_intact(r.out, record):  # a published file deleted or edited by hand: rebuilt
        return None
    try:
        files = json.loads(_files_record(r.out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for ch in r.chapters:
        r.keys[ch] = _chapter_key(r, ch, files.get(ch, []))
        if r.keys[ch] != record["chapitres"][ch].get("cle"):
            return None
    if _build_key(r) != record.get("cle"):
        return None
    when = ""
    try:
        d = dt.datetime.fromisoformat((sortie.lire_marque(r.out) or {})["publie"]).astimezone()
        when = f" (publié le {d:%d/%m/%Y} à {d:%H:%M})"
    except (KeyError, TypeError, ValueError):
        pass
    return (f"rien n’a changé depuis la dernière construction{sortie.ESP}: {sortie.g(display_path(r.out))} est à "
            f"jour{when}{sortie.ESP}; --force reconstruit tout.")


def _prepare(r: Report, force: bool, progress, said: set | None = None) -> str | None:
    """Check the output and the data, compute the keys, take what the cache has. Returns the message of a build
    with nothing to do, else None (the report's chapters still to run are those not in `r.reused`)."""
    r.t0 = time.monotonic()
    r.started = dt.datetime.now(dt.timezone.utc)
    p = r.resolved.params
    r.chapters = list(r.chapters or p.chapters)
    r.formats = list(r.formats or p.formats)
    # The output must be the report's own (absent, empty, or a report folder): refused before anything runs.
    r.out = sortie.verifier(r.out, input_folders(r.resolved, r.params_file), racine=config.ROOT)
    log.debug("Paramètres : %s", "; ".join(f"{k}={v} [{o}]" for k, v, o in describe(r.resolved)))
    if not r.label:
        log.info("Paramètres : %s", "; ".join(f"{k}={v} [{o}]" for k, v, o in describe(r.resolved)))
    r.parameters = notebook_parameters(r.resolved, r.params_file, r.overrides)
    # what dead builds left (staging folders beside the output, kernels' folders): cleaned first, fast path or not
    sortie.nettoyer_abandons(r.out)
    Kernels.clean_stale()
    folder = cache.folder_for(r.out)
    r.fingerprints, r.store = cache.Fingerprints(folder), cache.Cache(folder)
    if not force:
        same = _unchanged(r)
        if same is not None:
            r.fingerprints.save()
            return same
    progress.update(r.unit("vérification"), "chargement et contrôle des données")
    r.checked = check(r.resolved, r.chapters)  # raises DataError before any kernel starts
    for w in r.checked.warnings:  # the build says them too (and Annexe 2 repeats them), once per run
        if said is None or w not in said:
            log.warning(fmt.message(f"Attention : {w}"))
        if said is not None:
            said.add(w)
    r.keys = {ch: _chapter_key(r, ch, r.checked.chapter_files[ch]) for ch in r.chapters}
    # the cache's keys: the same, but for a portrait the rows of its EPCI in place of the register files
    rows = {ch: _territory_rows(r, ch) for ch in r.chapters}
    r.cache_keys = {ch: r.keys[ch] if rows[ch] is None else _chapter_key(r, ch, r.checked.chapter_files[ch],
                                                                       rows=rows[ch]) for ch in r.chapters}
    r.prose_keys = {ch: _chapter_key(r, ch, r.checked.chapter_files[ch], prose=True) for ch in r.chapters}
    r.key = _build_key(r)
    r.fingerprints.save()
    progress.done(r.unit("vérification"), time.monotonic() - r.t0, "données vérifiées")
    r.staging = sortie.preparer(r.out, annee=p.year)
    (r.staging / "notebooks").mkdir()
    for ch in r.chapters:
        hit = None if force else r.store.get(ch, r.cache_keys[ch])  # checked against its digest
        if hit is None and not force:  # only the notebook's prose changed: its outputs are kept, nothing executed
            hit = _with_new_prose(r, ch)
            if hit is not None:
                r.prose.append(ch)
        if hit is not None:
            (r.staging / "notebooks" / registry.spec(ch).notebook).write_bytes(hit)
            r.reused.append(ch)
    return None


# The chapters converted lately, by the digest of their executed notebook (before its scrub), their mark and the
# package's code: a chapter taken from the cache again (rapport preview after an edit of another chapter, a batch)
# is not converted again. A few entries: a preview's chapters.
_converted: dict[tuple, object] = {}
_converted_lock = threading.Lock()
CONVERTED_KEPT = 12


def _convert(r: Report, ch: str):
    """The chapter's HTML fragment (nbconvert, project template), from its executed notebook."""
    from helpers.report import assemble as publish
    illus = registry.module(ch).illustratif_chapitre(r.checked.contexts[ch])
    path = r.staging / "notebooks" / registry.spec(ch).notebook
    key = (ch, cache.sha256_file(path), illus, cache.code_digest())
    with _converted_lock:
        hit = _converted.get(key)
    if hit is not None:
        publish.scrub_notebook(path)  # the published notebook is scrubbed as when it is converted
        return hit
    chapter = publish.chapter_from_notebook(ch, path, illus)
    with _converted_lock:
        _converted[key] = chapter
        while len(_converted) > CONVERTED_KEPT:
            _converted.pop(next(iter(_converted)))
    return chapter


# Each worker thread keeps its kernel from one chapter to the next (of the same report or of another report of
# a batch): the kernel's start and the imports of pandas, geopandas, matplotlib and the package are paid once
# per thread instead of once per chapter. Between two notebooks the kernel's namespace is emptied, its figures
# closed and its execution counter set back to 1, so that a notebook runs as in a fresh kernel (the chapters'
# HTML is byte-identical, tests/test_cache.py). False: one fresh kernel per chapter, as before.
REUSE_KERNELS = True
_RESET = ("%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt\n"
          "get_ipython().execution_count = 1\n")
_thread = threading.local()


def _thread_kernel(kernels: Kernels):
    """This worker thread's kernel, started on first use, emptied before each later use; None if the kernels
    are not to be reused."""
    if not REUSE_KERNELS or kernels is None:
        return None
    from jupyter_core.utils import run_sync

    km = getattr(_thread, "km", None)
    if km is not None and (getattr(_thread, "owner", None) is not kernels or not run_sync(km.is_alive)()):
        km = None
    if km is None:
        _kernel_env()
        km = kernels.manager_class()(kernel_name=KERNEL)
        run_sync(km.start_kernel)(cwd=str(config.NOTEBOOKS_DIR))
        _thread.km, _thread.owner = km, kernels
        return km

    async def reset():
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            reply = await kc.execute_interactive(_RESET, store_history=False, timeout=20, output_hook=lambda m: None)
        finally:
            kc.stop_channels()
        if reply["content"].get("status") != "ok":
            raise RapportError(f"Remise à zéro du noyau impossible{sortie.ESP}: {reply['content'].get('evalue')}")
    run_sync(reset)()
    return km


# On a Dask worker, chapters run in threads of ours (as many as the worker has threads), each keeping its warm
# kernel from one task to the next, as a local build's threads do: a Dask task thread is not ours to keep a
# kernel in (its asyncio state is the worker's). One pool and one private kernels' folder per worker (several
# workers may share a process, `processes=False`), stopped with the worker's process.
REMOTE_THREADS = "rapport-dask-noyau"
_worker_pools: dict[str, tuple] = {}
_worker_lock = threading.Lock()


def _worker_pool():
    """This Dask worker's (pool of kernel threads, Kernels), made on its first chapter."""
    import concurrent.futures as cf

    try:
        from distributed import get_worker

        worker = get_worker()
        key, threads = worker.address, int(getattr(worker.state, "nthreads", None) or worker.nthreads or 1)
    except (ImportError, ValueError, AttributeError):  # called outside a worker: one thread
        key, threads = "local", 1
    with _worker_lock:
        if key not in _worker_pools:
            _worker_pools[key] = (cf.ThreadPoolExecutor(threads, thread_name_prefix=REMOTE_THREADS), Kernels())
        return _worker_pools[key]


def close_worker_pools() -> None:
    """Stop the warm kernels of every worker of this process (at its exit; also called by the tests)."""
    with _worker_lock:
        pools = list(_worker_pools.values())
        _worker_pools.clear()
    for pool, kernels in pools:
        kernels.close()
        pool.shutdown(wait=False, cancel_futures=True)


atexit.register(close_worker_pools)


def _warm_execute(chapter: str, src: Path, dst: Path, parameters: dict, kernels: Kernels) -> None:
    """In one of the worker's kernel threads: the chapter in this thread's kernel (started on first use, emptied
    before each later use, started again if it died)."""
    try:
        km = _thread_kernel(kernels)
    except RuntimeError as exc:  # died at start-up: raised as a dead kernel, so that Dask runs the task once more
        raise ChapterFailed(f"Le chapitre « {chapter} » a échoué{fmt.NBSP}: le noyau Python qui exécutait {src.name} "
                            f"s’est arrêté brutalement au démarrage ({exc}).") from None
    execute(chapter, src, dst, parameters, kernels, km=km)


def _remote_chapter(chapter: str, src: str, parameters: dict) -> tuple[str, bytes | None, str]:
    """On a Dask worker: execute one chapter in a warm kernel of this worker; returns ("ok", notebook, "") or,
    when a cell fails (the same failure again on a retry: not retried), ("echec", partial notebook, message). A
    kernel that dies raises: Dask runs the task once more (a fresh kernel), then reports it. The worker needs this
    package and the project's files at the same paths (the notebooks, the data)."""
    pool, kernels = _worker_pool()
    with tempfile.TemporaryDirectory(prefix="rapport-dask-") as d:
        dst = Path(d) / Path(src).name
        try:
            pool.submit(_warm_execute, chapter, Path(src), dst, parameters, kernels).result()
        except ChapterFailed as exc:
            if "s’est arrêté brutalement" in str(exc):  # the kernel died: raised, so that Dask retries once
                raise
            return "echec", dst.read_bytes() if dst.is_file() else None, str(exc).replace(str(dst), "{notebook}")
        return "ok", dst.read_bytes(), ""


def _remote_pdf(html_text: str, portrait: bool = False) -> tuple[bytes, int, bytes | None]:
    """On a Dask worker: the PDF of a page (report or portrait), its number of pages and, for a portrait, its socle
    (the PDF without page numbers the combined PDF is made of, report/pdf.py)."""
    from helpers.report import pdf
    from helpers.report.assemble import write_pdf

    with tempfile.TemporaryDirectory(prefix="rapport-dask-") as d:
        target = Path(d) / "page.pdf"
        if portrait:
            pages = pdf.portrait(html_text, target)
            return target.read_bytes(), pages, pdf.socle_path(target).read_bytes()
        pages = write_pdf(html_text, target)
        return target.read_bytes(), pages, None


class Remote:
    """`--executor dask://HOST:PORT`: chapters are executed, and PDFs laid out, on a Dask distributed cluster; the
    checks, the HTML and the publication stay here. Each task is run once more if its worker or kernel dies, then
    reported; a result is released on the cluster as soon as it is written here, and no more tasks are in flight
    than the client's threads (`slots`): a national run holds a bounded number of results. Workers started with
    `--resources noyau=N` run at most N kernels each (tasks ask for one). Optional dependency: `distributed`."""

    RETRIES = 1

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise RapportError("L’option --executor dask://… demande le paquet « distributed » : "
                               "pip install 'rapport-caf[dask]' (ou pip install distributed).") from None
        self.address = address
        try:
            self.client = Client(address, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise RapportError(f"Impossible de joindre l’ordonnanceur Dask {sortie.g(address)}{sortie.ESP}: "
                               f"{exc}") from None
        workers = self.client.scheduler_info().get("workers", {}).values()
        self.slots = max(1, sum(int(w.get("nthreads", 1)) for w in workers))
        self.resources = {"noyau": 1} if any("noyau" in (w.get("resources") or {}) for w in workers) else None
        self.futures: set = set()
        self.lock = threading.Lock()

    def _submit(self, fn, *args):
        fut = self.client.submit(fn, *args, pure=False, retries=self.RETRIES, resources=self.resources)
        with self.lock:
            self.futures.add(fut)
        return fut

    def _result(self, fut, what: str):
        """The task's value, then released on the cluster; a task failed twice (worker or kernel dead) is said."""
        try:
            return fut.result()
        except ChapterFailed as exc:
            raise ChapterFailed(f"{exc}\n(tâche relancée une fois sur la grappe Dask, en vain)") from None
        except Exception as exc:  # KilledWorker, CancelledError, a worker's exception
            if isinstance(exc, RapportError):
                raise
            raise ChapterFailed(f"{what}{fmt.NBSP}: la tâche a échoué deux fois sur la grappe Dask {self.address} "
                                f"({type(exc).__name__}{fmt.NBSP}: {exc})") from None
        finally:
            with self.lock:
                self.futures.discard(fut)
            fut.release()

    def run(self, chapter: str, src: Path, dst: Path, parameters: dict) -> None:
        fut = self._submit(_remote_chapter, chapter, str(src), parameters)
        status, data, message = self._result(fut, f"Le chapitre « {chapter} » a échoué")
        if data is not None:
            dst.write_bytes(data)
        if status != "ok":
            raise ChapterFailed(message.replace("{notebook}", str(dst)))

    def pdf(self, html_text: str, target: Path, portrait: bool = False) -> int:
        """Lay out `html_text` on the cluster into `target` (a portrait: with its socle beside it); its pages."""
        data, pages, socle = self._result(self._submit(_remote_pdf, html_text, portrait),
                                          f"Le PDF {target.name} n’a pas pu être fait")
        target.write_bytes(data)
        if socle is not None:
            from helpers.report.pdf import socle_path

            socle_path(target).write_bytes(socle)
        return pages

    def close(self) -> None:
        with self.lock:
            running = [f for f in self.futures if not f.done()]
        if running:  # a task already running on a worker finishes there; its result is dropped
            self.client.cancel(running)
        self.client.close()


def _run_chapter(r: Report, ch: str, kernels: Kernels, progress, remote: Remote | None = None):
    """In a worker thread: execute the chapter (unless taken from the cache), then convert it to HTML at once,
    while the other chapters' kernels still run."""
    unit = r.unit(ch)
    if kernels is not None and kernels.closed:
        raise interruption.Interrompu(signal.SIGTERM)
    t = time.monotonic()
    if ch not in r.reused and remote is not None:
        progress.update(unit, f"exécution sur {remote.address}")
        name = registry.spec(ch).notebook
        remote.run(ch, config.NOTEBOOKS_DIR / name, r.staging / "notebooks" / name, r.parameters)
    elif ch not in r.reused:
        warm = REUSE_KERNELS and getattr(_thread, "owner", None) is kernels
        progress.update(unit, "noyau du chapitre précédent, remis à zéro" if warm else "démarrage du noyau")
        name = registry.spec(ch).notebook
        from helpers.chapters.context import save_prepared

        # the context checked before the kernels, handed to the kernel instead of parsing the files again
        prepared = save_prepared(r.checked.contexts[ch], kernels.dir)
        try:
            km = _thread_kernel(kernels)
        except RuntimeError as exc:  # the warm kernel died at start-up: the chapter fails, said in French
            raise ChapterFailed(f"Le chapitre « {ch} » a échoué{fmt.NBSP}: le noyau Python qui devait exécuter {name} "
                                f"s’est arrêté au démarrage ({exc}) ; rien n’a été exécuté.") from None
        execute(ch, config.NOTEBOOKS_DIR / name, r.staging / "notebooks" / name, {**r.parameters, "prepared": str(prepared)},
                kernels, on_cell=lambda k, n: progress.update(unit, f"cellule {k}/{n}", plain=False), km=km)
        _forget_prepared(r.staging / "notebooks" / name)
    progress.update(unit, "conversion HTML", plain=False)
    chapter = _convert(r, ch)
    progress.done(unit, time.monotonic() - t, "terminé" if ch not in r.reused else
                  "texte seul modifié : sorties reprises, rien d’exécuté" if ch in r.prose else "repris du cache, converti")
    return chapter


def _submit(r: Report, pool, kernels: Kernels, progress, remote: Remote | None = None) -> None:
    for ch in r.chapters:
        progress.update(r.unit(ch), "en attente", plain=False)
        r.futures[ch] = pool.submit(_run_chapter, r, ch, kernels, progress, remote)


def _wait(futures) -> None:
    """Wait in short steps: the main thread stays responsive to signals."""
    import concurrent.futures as cf
    pending = set(futures)
    while pending:
        _, pending = cf.wait(pending, timeout=0.2)


def _finish(r: Report, progress, remote: Remote | None = None) -> Written:
    """Wait for the report's chapters, then assemble, render and publish it."""
    from helpers.report import annexes
    from helpers.report import assemble as publish
    p = r.resolved.params
    failure = None
    for ch in r.chapters:
        fut = r.futures.get(ch)
        if fut is None or fut.cancelled():  # cancelled: after another chapter's failure
            continue
        _wait([fut])
        if fut.cancelled():
            continue
        exc = fut.exception()
        if exc is not None and failure is None:
            failure = exc
            progress.failed(r.unit(ch), type(exc).__name__ if not isinstance(exc, ChapterFailed) else "voir ci-dessous")
            for other in r.futures.values():
                other.cancel()
    if failure is not None:
        _wait([f for f in r.futures.values() if not f.cancelled()])
        if not isinstance(failure, ChapterFailed):
            raise failure
        with interruption.differe():
            staging, r.staging = r.staging, None
            failed = sortie.garder_echec(staging, r.out)
        raise ChapterFailed(str(failure).replace(str(staging), str(failed)) +
                            f"\nRien n’a été publié dans {r.out}.") from None
    reran = [ch for ch in r.chapters if ch not in r.reused]
    for ch in [*reran, *r.prose]:
        r.store.put(ch, r.cache_keys[ch], r.staging / "notebooks" / registry.spec(ch).notebook)
        r.store.alias(ch, r.prose_keys[ch], r.cache_keys[ch])

    t = time.monotonic()
    unit = r.unit("assemblage")
    progress.update(unit, "assemblage HTML")
    checked, staging = r.checked, r.staging
    built = [r.futures[ch].result() for ch in r.chapters]

    from zoneinfo import ZoneInfo
    meta = publish.Meta(p.year, p.caf_name, p.report_title, fmt.date_longue(p.observation_date),
                        any(c.illustrative for c in built) or bool(checked.illustrative),
                        fmt.date_longue(r.started.astimezone(ZoneInfo("Europe/Paris")).date()))
    facts = _method_facts(checked, r.resolved)
    # the reader's annex; files, formats, checksums and re-publishers go to provenance.html
    sources_detail = annexes.sources(facts) + annexes.embedded(p, checked.files) + _downloads(r.resolved)
    ann = [("annexe-sources", "Annexe 1 — Sources et méthode", annexes.sources_reader(facts)),
           ("annexe-publies", "Annexe 2 — Chiffres publiés et chiffres recalculés",
            annexes.published(r.resolved, checked.computed, checked.illustrative, checked.gap_notes,
                              registry.labels()))]
    duration = time.monotonic() - r.t0
    prov = annexes.Provenance.collect(r.resolved, checked.files, r.started, duration, checked.contexts)
    ann.append(("annexe-provenance", "Annexe 3 — Provenance", prov.summary_html()))
    from helpers.chapters import essentiel
    front = essentiel.html(checked.contexts, built)  # « L'essentiel », after the contents
    # the acronyms the built text uses (key messages, chapters and annexes), defined
    words = annexes.glossary([front] + [c.fragment for c in built] + [content for _, _, content in ann])
    if words:
        ann.append(("annexe-glossaire", "Glossaire des sigles", words))
    full, pages = publish.assemble(meta, built, ann, front)  # rendered once, for the HTML files and the PDF
    written = prov.write(staging, sources_detail)  # the technical detail, beside the report: provenance.html, provenance.json
    if "html" in r.formats:
        target = staging / f"rapport-{p.year}.html"
        target.write_text(full, encoding="utf-8")
        written.append(target)
        for name, text in pages.items():
            (staging / name).write_text(text, encoding="utf-8")
            written.append(staging / name)
    if "pdf" in r.formats:
        progress.update(unit, "mise en page du PDF (WeasyPrint)")
        if remote is not None:  # laid out on the cluster too
            remote.pdf(full, staging / f"rapport-{p.year}.pdf")
        else:
            publish.write_pdf(full, staging / f"rapport-{p.year}.pdf")  # links relative to the published folder
        written.append(staging / f"rapport-{p.year}.pdf")
    # the published record holds keys only; the files each chapter read (absolute paths of this machine) stay in
    # the cache beside the output, never in what is published
    notebooks = [staging / "notebooks" / registry.spec(ch).notebook for ch in r.chapters]
    cache.write_record(staging, r.key, {ch: {"cle": r.keys[ch]} for ch in r.chapters},
                       r.formats, [w.relative_to(staging) for w in [*written, *notebooks]])
    _files_record(r.out).write_text(json.dumps({ch: [str(f) for f in checked.chapter_files[ch]] for ch in r.chapters},
                                               ensure_ascii=False), encoding="utf-8")
    try:
        with interruption.differe(publication=True):  # a signal now waits until the report is published
            sortie.publier(staging, r.out)
            r.staging = None
            sortie.retirer_echec(r.out)
    except interruption.Interrompu as exc:
        exc.detail = f"le rapport a d’abord été publié en entier dans {sortie.g(display_path(r.out))}."
        raise
    progress.done(unit, time.monotonic() - t, "publié")
    return Written([r.out / w.relative_to(staging) for w in written], reran=reran, reused=r.reused,
                   contexts=checked.contexts, prose=r.prose)


def default_jobs() -> int:
    """As many chapters at once as the process may use cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class Session:
    """Kernels and chapter threads kept from one build to the next (`rapport preview`): a chapter executed again
    after an edit runs in a kernel already started, its imports done. A warm kernel keeps the modules it imported:
    the kernels are started afresh when the package's code changed. `close()` stops them."""

    def __init__(self) -> None:
        self.kernels: Kernels | None = None
        self.pool = None
        self.code: str | None = None

    def take(self, jobs: int | None):
        import concurrent.futures as cf

        code = cache.code_digest()
        if self.kernels is not None and (self.code != code or self.kernels.closed):
            self.kernels.close()  # each thread sees another owner and starts a fresh kernel
            self.kernels = None
        if self.kernels is None:
            self.kernels, self.code = Kernels(), code
        if self.pool is None:
            self.pool = cf.ThreadPoolExecutor(max_workers=jobs or default_jobs(), thread_name_prefix="chapitre")
        return self.kernels, self.pool

    def close(self) -> None:
        if self.kernels is not None:
            self.kernels.close()
            self.kernels = None
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def run(reports: list[Report], force: bool = False, jobs: int | None = None, progress=None,
        keep_going: bool = False, executor: str | Remote | None = None, on_done=None,
        session: Session | None = None) -> list[Written | RapportError]:
    """Build `reports`: each is checked in turn (before any of its kernels starts) while the chapters already
    checked run, `jobs` at a time, in threads that each drive one kernel (a separate process). A report is
    assembled and published as soon as its chapters are done. `keep_going` (batches): a report that fails is
    recorded (its exception in the result) and the others go on; otherwise the first failure is raised.

    A signal stops every kernel, removes every staging folder and publishes nothing more.

    `executor` "dask://HOST:PORT": the chapters are executed on that Dask cluster instead (see Remote), and the
    reports' PDFs laid out there; or a Remote already connected (the caller closes it).
    `on_done(i, written)`: called (main thread) as soon as report i is published or found unchanged, while the
    others still run (the EPCI portraits lay out their PDFs meanwhile). `session`: kernels and threads kept
    from one run to the next (not stopped at the end, nor after a failed chapter; stopped by a signal)."""
    import concurrent.futures as cf
    own_remote = not isinstance(executor, Remote)
    if executor is not None:
        session = None

    from helpers.progress import Progress
    progress = progress or Progress(enabled=False)
    _kernel_env()
    results: dict[int, Written | RapportError] = {}
    kernels = pool = None
    remote = None if own_remote else executor
    said: set[str] = set()  # the data checks' warnings already said (a batch, the portraits: the same files)
    t0 = time.monotonic()
    try:
        with progress.capture():
            pending = []
            for i, r in enumerate(reports):
                try:
                    same = _prepare(r, force, progress, said)
                except RapportError as exc:
                    if not keep_going:
                        raise
                    progress.failed(r.unit("vérification"), type(exc).__name__)
                    results[i] = exc
                    continue
                if same is not None:
                    results[i] = Written(unchanged=same, reused=r.chapters)
                    if on_done is not None:
                        on_done(i, results[i])
                    continue
                if executor is not None and remote is None and len(r.reused) < len(r.chapters):
                    remote = Remote("tcp://" + executor.removeprefix("dask://"))
                if session is not None and len(r.reused) < len(r.chapters):
                    kernels, pool = session.take(jobs)
                elif session is not None and pool is None:
                    pool = session.take(jobs)[1]
                if pool is None:  # remote: the threads here only wait for the cluster and convert to HTML
                    # remote: as many chapters in flight as the cluster has threads (8 at least), no more
                    pool = cf.ThreadPoolExecutor(max_workers=jobs or (max(8, remote.slots) if remote is not None
                                                                      else 8 if executor else default_jobs()),
                                                 thread_name_prefix="chapitre")
                if len(r.reused) < len(r.chapters) and kernels is None and executor is None:
                    kernels = Kernels()
                _submit(r, pool, kernels, progress, remote)
                pending.append((i, r))
            for i, r in pending:
                try:
                    results[i] = _finish(r, progress, remote)
                except RapportError as exc:
                    if not keep_going:
                        raise
                    results[i] = exc
                    continue
                if on_done is not None:
                    on_done(i, results[i])
            if len(reports) > 1 and any(isinstance(w, Written) and w.unchanged is None for w in results.values()):
                progress.total(time.monotonic() - t0)
    except BaseException as exc:
        keep = session is not None and isinstance(exc, RapportError)  # a failed chapter: the kernels stay warm
        if session is not None and not keep:
            session.close()
        if session is not None:
            kernels = pool = None  # the session's: closed above, or kept
        with interruption.differe():  # a second signal does not cut the cleanup short
            if kernels is not None:
                kernels.close()
            if remote is not None and own_remote:
                remote.close()
                remote = None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
                running = [f for r in reports for f in r.futures.values() if not f.done()]
                cf.wait(running, timeout=15)  # the threads see their kernel die and stop
            for r in reports:
                if r.staging is not None and r.staging.exists():
                    shutil.rmtree(r.staging, ignore_errors=True)
                    r.staging = None
        if isinstance(exc, interruption.Interrompu) and exc.detail is None:
            untouched = [sortie.g(display_path(r.out)) for i, r in enumerate(reports) if i not in results]
            exc.detail = (f"noyaux arrêtés, dossier{'s' if len(untouched) > 1 else ''} de construction "
                          f"supprimé{'s' if len(untouched) > 1 else ''}{sortie.ESP}; rien n’a été publié, "
                          f"{', '.join(untouched)} n’{'ont' if len(untouched) > 1 else 'a'} pas changé.")
        raise
    finally:
        if session is None and kernels is not None:
            kernels.close()
        if session is None and pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if remote is not None and own_remote:
            remote.close()
    return [results[i] for i in range(len(reports))]


def build(resolved: Resolved, out: Path, params_file: Path | None, overrides: dict,
          chapters: list[str] | None = None, formats: list[str] | None = None, *, force: bool = False,
          jobs: int | None = None, progress=None, executor: str | None = None,
          session: Session | None = None) -> Written:
    """Build one report into `out`: its chapters in parallel, each taken from the cache when its key matches;
    nothing at all when the published report is up to date (`Written.unchanged` says so) unless `force`."""
    t0 = time.monotonic()
    [written] = run([Report(resolved, Path(out), params_file, overrides, chapters, formats)], force, jobs, progress,
                    executor=executor, session=session)
    if written.unchanged is None:
        log.info("Terminé en %s s", fmt.nombre(time.monotonic() - t0, 1))
    return written
