"""`rapport territoires`: the portrait of every EPCI of the département, from the same notebook
(04_territoire, a `territoire` parameter), built in parallel; an index with one key figure each and
a combined PDF with a contents page. A failing EPCI does not stop the others: the index lists it
and the command exits with 1.

Output: `outputs/territoires/<year>/` (a report folder of its own, published in one step like the
report: the annual report's folder is replaced as a whole at each build, so the portraits do not
live inside it).
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from helpers import config, fmt
from helpers.errors import ParamError, RapportError

log = logging.getLogger("rapport")


@dataclass
class Result:
    siren: str
    nom: str
    fichier: str = ""  # base name: <siren>-<short-name>
    personnes: str = ""
    taux: str = ""
    erreur: str | None = None
    secondes: float = 0.0
    pages: int = 0  # of its own PDF


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """In a worker process (initializer of the pool): die when the command that started it dies, even by
    `kill -9`, which runs no cleanup (the workers would otherwise wait on their queue forever). Linux: a
    parent-death signal (SIGTERM); everywhere: a thread that watches the parent. The worker's kernels then stop by
    themselves (ipykernel watches its parent), and the folders left are removed by the next command."""
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    ppid = os.getppid()  # the command itself (fork), or multiprocessing's fork server

    def gone() -> bool:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return os.getppid() != ppid  # reparented: whoever started this worker is gone

    def watch() -> None:
        while not gone():
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(15)  # a handler had its time to clean up
        os._exit(143)

    threading.Thread(target=watch, daemon=True, name="parent").start()
    if gone():  # the parent died before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)


def _one(year, departement, params_file, overrides, siren, nom, staging: str) -> Result:
    """Build one EPCI's portrait (in a worker process): HTML of the chapter page and its own PDF."""
    from helpers.build import build
    from helpers.chapters import territoire
    from helpers.params import resolve
    from helpers.report.assemble import write_pdf

    t0 = time.monotonic()
    logging.getLogger("rapport").setLevel(logging.WARNING)  # one line per portrait from the parent, not the build's
    base = f"{siren}-{territoire.short_name(nom)}"
    res = Result(siren, nom, base)
    try:
        resolved = resolve(year, departement, params_file, {**overrides, "territoire": siren},
                           cli_extra={"chapters": ["territoire"], "formats": ["html"]})
        out = Path(staging) / f".{siren}"
        written = build(resolved, out, params_file, {**overrides, "territoire": siren}, chapters=["territoire"],
                        formats=["html"])
        page = (out / f"rapport-{resolved.params.year}-territoire.html").read_text(encoding="utf-8")
        (Path(staging) / f"{base}.html").write_text(page, encoding="utf-8")
        res.pages = write_pdf(page, Path(staging) / f"{base}.pdf")  # relative links, as published
        # the values of the index come from the context the build checked (data read and checked once)
        v = territoire.valeurs(written.contexts["territoire"])
        res.personnes, res.taux = v["personnes"], v["taux"]
        shutil.rmtree(out.resolve(), ignore_errors=True)
        if out.is_symlink():
            out.unlink()
    except RapportError as exc:
        res.erreur = str(exc)
    except Exception as exc:  # one EPCI's failure never stops the others
        res.erreur = f"Erreur inattendue ({type(exc).__name__}\u00a0: {exc})"
    res.secondes = time.monotonic() - t0
    return res


def _index(results: list[Result], year: int, caf: str) -> str:
    from bs4 import BeautifulSoup
    from markupsafe import Markup

    from helpers.report.assemble import _css, typographie
    from helpers.report.templating import render

    rows = []
    for r in results:
        if r.erreur:
            rows.append([r.nom, Markup('<span class="echec">Échec{}: {}</span>').format(fmt.NBSP, r.erreur.splitlines()[0]),
                         "–", "–"])
        else:
            rows.append([Markup('<a href="{}.html">{}</a>').format(r.fichier, r.nom), r.personnes, r.taux,
                         Markup('<a href="{}.pdf">PDF</a>').format(r.fichier)])
    title = f"Portraits des EPCI {year} — {caf}"
    soup = BeautifulSoup(render("territoires.html.j2", title=title, description=title, css=_css(), year=year, caf=caf,
                                rows=rows, failed=sum(1 for r in results if r.erreur)), "html.parser")
    typographie(soup)  # French spaces, as in the report's pages
    return str(soup)


def _combined_pdf(results: list[Result], folder: Path, year: int, caf: str) -> Path:
    """All portraits in one PDF, after a contents page giving each one's first page."""
    from markupsafe import Markup
    from weasyprint import HTML

    from helpers.report.assemble import _css
    from helpers.report.templating import render

    ok = [r for r in results if not r.erreur]

    def contents(first_page: int) -> str:
        page, entries = first_page, []
        for r in ok:  # each portrait's page count is its own PDF's, written by _one
            entries.append((r.nom, page))
            page += r.pages
        title = f"Portraits des EPCI {year} — {caf}"
        # the contents page is numbered in its own document: no « page 1 / 1 » at its foot
        css = _css() + Markup("@page { @bottom-right { content: none; } }")
        return render("territoires-sommaire.html.j2", title=title, description=title, css=css, year=year,
                      caf=caf, entries=entries)

    toc = HTML(string=contents(2)).render()
    if len(toc.pages) > 1:  # the contents page count shifts the page numbers
        toc = HTML(string=contents(1 + len(toc.pages))).render()
    # each portrait, numbered from its page in the combined document (the contents give those numbers)
    first = 1 + len(toc.pages)
    numbered = []
    for r in ok:
        page = (folder / f"{r.fichier}.html").read_text(encoding="utf-8").replace(
            "</style>", f'@media print {{ @page {{ @bottom-right {{ content: "page " counter(page); }} }} '
                        f"@page :first {{ counter-reset: page {first}; }} }}</style>", 1)
        numbered.append(HTML(string=page).render())  # no base URL: links stay relative to the published folder
        first += r.pages
    pages = [p for d in [toc, *numbered] for p in d.pages]
    target = folder / f"portraits-{year}.pdf"
    toc.copy(pages).write_pdf(target)
    return target


def run_territoires(year, departement, params_file, overrides: dict, epci: list[str] | None, out: Path | None) -> int:
    from helpers import sortie
    from helpers.data.reference import load_reference
    from helpers.params import resolve

    resolved = resolve(year, departement, params_file, overrides, cli_extra={"chapters": ["territoire"]})
    p = resolved.params
    ref = load_reference(p.reference_dir, p.departement, p.geo_dir)
    table, _ = ref.epci_year(p.year)
    if table.empty:
        raise ParamError(f"--departement\u00a0: aucun EPCI connu pour le département {p.departement} "
                         "(data/reference/epci.csv)")
    names = dict(zip(table.siren, table.nom))
    wanted = list(names) if not epci or epci == ["all"] else epci
    unknown = [s for s in wanted if s not in names]
    if unknown:
        raise ParamError(f"--epci\u00a0: SIREN inconnu pour le département {p.departement}\u00a0: {', '.join(unknown)} "
                         f"(EPCI connus\u00a0: {', '.join(sorted(names))})")
    from helpers import interruption
    from helpers.build import input_folders

    out = sortie.verifier(Path(out or config.OUTPUTS_DIR / "territoires" / str(p.year)), input_folders(resolved, params_file),
                          racine=config.ROOT)  # the folder is the tool's own, never an input: refused before anything
    t0 = time.monotonic()
    sortie.nettoyer_abandons(out)
    publish = sortie.preparer(out, annee=p.year)
    staging = Path(tempfile.mkdtemp(prefix=f"rapport-territoires-{os.getpid()}-"))
    sortie.ecrire_marque(staging)  # removed by a later command if this process is killed outright
    results: list[Result] = []
    try:
        workers = max(1, min(os.cpu_count() or 1, len(wanted)))
        log.info("Portraits de %s EPCI, %s en parallèle", len(wanted), workers)
        with ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(_one, p.year, p.departement, params_file, overrides, s, names[s], str(staging))
                       for s in wanted]
            for f in as_completed(futures):
                r = f.result()
                results.append(r)
                log.info("%s : %s en %s s", r.nom, "échec" if r.erreur else "fait",
                         fmt.nombre(r.secondes, 1))
        results.sort(key=lambda r: r.nom)
        (staging / "index.html").write_text(_index(results, p.year, p.caf_name), encoding="utf-8")
        if any(not r.erreur for r in results):
            _combined_pdf(results, staging, p.year, p.caf_name)
        for f in staging.iterdir():
            if not f.name.startswith("."):
                shutil.move(str(f), publish / f.name)
        with interruption.differe(publication=True):  # published in one step, like the report
            sortie.publier(publish, out)
    except BaseException:
        shutil.rmtree(publish, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    failed = [r for r in results if r.erreur]
    for r in failed:
        print(f"Échec\u00a0: {r.nom} ({r.siren})\u00a0: {r.erreur.splitlines()[0]}")
    print(f"écrit\u00a0: {out / 'index.html'} ({fmt.pluriel(len(results) - len(failed), 'portrait')}, "
          f"{fmt.nombre(time.monotonic() - t0, 1)} s)")
    return 1 if failed else 0
