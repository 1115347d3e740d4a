"""`rapport territoires`: the portrait of every EPCI of the département, from the same notebook
(04_territoire, a `territoire` parameter), built in parallel; an index with one key figure each and
a combined PDF with a contents page. A failing EPCI does not stop the others: the index lists it
and the command exits with 1.

Output: `outputs/territoires/<year>/` (a report folder of its own, published in one step like the
report: the annual report's folder is replaced as a whole at each build, so the portraits do not
live inside it).
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
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
    dep_personnes: str = ""  # the département's figures, for the index's département row
    dep_taux: str = ""
    illustratif: bool = False  # the portrait shows a figure marked illustrative


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


def _pdf(page: str, target: str) -> int:
    """One portrait's own PDF (in a worker process): its number of pages."""
    from helpers.report.assemble import write_pdf

    return write_pdf(Path(page).read_text(encoding="utf-8"), Path(target))  # relative links, as published


def _portraits_dir(out: Path) -> Path:
    """Where each EPCI's portrait is built and kept between runs (a report folder of its own, with the build's
    record and cache beside it), in the cache beside the published folder, never in what is published."""
    from helpers import cache

    return cache.folder_for(out) / f"portraits-{out.name}"


def _epci_names(p, folder: Path, keep: dict | None = None) -> dict[str, str]:
    """SIREN -> name of the département's EPCI for the year, from the reference tables; kept beside the portraits
    with what identifies those tables (files, sizes, times), so that a run with nothing to do reads no table.
    `keep`: write these names (once the command's arguments are accepted: a refused command writes nothing)."""
    from helpers.data.memo import _stamp

    stamp = json.dumps([p.departement, p.year, _stamp(p.reference_dir), _stamp(p.geo_dir)], default=str)
    path = folder / f"epci-{p.departement}-{p.year}.json"
    if keep is not None:
        path.write_text(json.dumps({"empreinte": stamp, "noms": keep}, ensure_ascii=False), encoding="utf-8")
        return keep
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("empreinte") == stamp and isinstance(kept.get("noms"), dict):
            return kept["noms"]
    except (OSError, ValueError, AttributeError):
        pass
    from helpers.data.reference import load_reference

    table, _ = load_reference(p.reference_dir, p.departement, p.geo_dir).epci_year(p.year)
    return dict(zip(table.siren, table.nom))


def _memo_path(folder: Path, siren: str) -> Path:
    return folder / f"{siren}.json"


def _collect(r, written, folder: Path, nom: str) -> tuple[Result, str]:
    """The portrait's Result (its figures for the index) and its build's key, from the build just run, or
    from what was kept with the same key when nothing changed."""
    import json

    from helpers import cache
    siren = r.overrides["territoire"]
    res = Result(siren, nom, f"{siren}-{fmt.slug(nom, ligatures=True)}")
    record = cache.read_record(r.out) or {}
    key = record.get("cle", "")
    memo = _memo_path(folder, siren)
    kept = {}
    try:
        kept = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    ctx = (getattr(written, "contexts", None) or {}).get("territoire")
    if kept.get("cle") == key and ctx is None:
        v = kept["valeurs"]
    else:
        if ctx is None:  # unchanged, but what was kept is not for this build: its context, checked again
            from helpers.build import check
            ctx = check(r.resolved, ["territoire"]).contexts["territoire"]
        from helpers.chapters import territoire

        full = territoire.valeurs(ctx)
        v = {k: full[k] for k in ("personnes", "taux", "dep_personnes", "dep_taux")}
        kept = {"cle": key, "valeurs": v}  # the PDF below is made again: no page count kept
    res.personnes, res.taux, res.dep_personnes, res.dep_taux = v["personnes"], v["taux"], v["dep_personnes"], v["dep_taux"]
    page = (r.out / f"rapport-{r.resolved.params.year}-territoire.html").read_text(encoding="utf-8")
    res.illustratif = "marque-illustratif" in page
    pdf = folder / f"{siren}.pdf"
    intact = pdf.is_file() and not pdf.is_symlink() and cache.sha256_file(pdf) == kept.get("pdf")
    res.pages = kept.get("pages", 0) if intact else 0  # 0: its PDF is made (again)
    return res, key


def _keep(folder: Path, res: Result, key: str) -> None:
    """What the next run reuses when the portrait's build key is the same: its figures, its PDF's digest and pages."""
    import json

    from helpers import cache

    memo = _memo_path(folder, res.siren)
    memo.write_text(json.dumps({"cle": key, "pages": res.pages, "pdf": cache.sha256_file(folder / f"{res.siren}.pdf"),
                                "valeurs": {"personnes": res.personnes, "taux": res.taux,
                                            "dep_personnes": res.dep_personnes, "dep_taux": res.dep_taux}},
                               ensure_ascii=False), encoding="utf-8")


def cle_francaise(nom: str) -> tuple[str, str]:
    """Sort key of an EPCI's name in French order: accents folded and case ignored (« Île » with the I), the
    legal form (« CA », « CC », « CU », « Métropole ») and the lower-case « de », « du », « des », « de la », « de l’ »
    after it ignored, a capital article kept as part of a town's name: « CA de La Rochelle » sorts at L, « CC de la
    Pieve de l’Ornano » at P, « CC de l’Île de Ré » at I, « CA Royan Atlantique » at R; the folded name breaks ties."""
    import unicodedata

    def fold(text: str) -> str:
        text = unicodedata.normalize("NFD", text.replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae"))
        return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()

    s = nom.replace("’", "'").strip()
    s = re.sub(r"^(CA|CC|CU|Communauté (d'agglomération|de communes|urbaine)|Métropole)\s+", "", s)
    s = re.sub(r"^(de la |de l'|du |des |de |d')", "", s)  # case-sensitive: « La » of La Rochelle is kept
    return re.sub(r"[^0-9a-z]+", " ", fold(s)).strip(), fold(nom)


@dataclass
class Departement:
    """The département's row of the index: its name, persons covered and rate, and its report if published."""
    nom: str
    personnes: str
    taux: str
    rapport: str | None = None  # relative link to the département's report, when it exists
    illustratif: bool = False  # some figure of the portraits reads illustrative register rows


def rapport_departement(out: Path, year: int, departement: str) -> str | None:
    """The département's report beside the portraits' folder (outputs/ANNÉE or outputs/DÉP/ANNÉE, built for the
    same département, as its provenance says), as a link relative to `out`; None when it is not published."""
    import json

    base = out.parent.parent  # outputs/territoires/ANNÉE -> outputs
    for folder in (base / str(year), base / departement / str(year)):
        page = folder / f"rapport-{year}.html"
        prov = folder / "provenance.json"
        if not page.is_file() or not prov.is_file():
            continue
        try:
            params = {p["cle"]: p["valeur"] for p in json.loads(prov.read_text(encoding="utf-8")).get("parametres", [])}
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if str(params.get("departement")) == departement:
            return os.path.relpath(page, out)
    return None


def _navigation(html: str, results: list[Result], i: int, rapport: str | None) -> str:
    """A portrait's navigation inside the portraits' folder: the index, the département's report when it exists,
    the previous and next portraits (French order); the report's chapter links, which lead nowhere here, removed."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    ok = [r for r in results if not r.erreur]
    here = next(j for j, r in enumerate(ok) if r.siren == results[i].siren)
    nav = soup.select_one("nav.chapitres")
    if nav is not None:
        nav["aria-label"] = "Portraits des EPCI"
        ul = soup.new_tag("ul")
        links = [("index.html", "Tous les portraits")] + ([(rapport, "Rapport du département")] if rapport else [])
        for href, text in links:
            li = soup.new_tag("li")
            a = soup.new_tag("a", href=href)
            a.string = text
            li.append(a)
            ul.append(li)
        nav.clear()
        nav.append(ul)
    suite = soup.select_one("nav.suite")
    if suite is not None:
        suite["aria-label"] = "Portrait précédent et suivant"
        suite.clear()
        for j, cls, rel, sens in ((here - 1, "precedent", "prev", "Portrait précédent"),
                                  (here + 1, "suivant", "next", "Portrait suivant")):
            if 0 <= j < len(ok):
                a = soup.new_tag("a", href=f"{ok[j].fichier}.html", rel=rel)
                a["class"] = cls
                span = soup.new_tag("span")
                span["class"] = "sens"
                span.string = sens
                a.append(span)
                a.append(f" {ok[j].nom}")
                suite.append(a)
    return str(soup)


def _index(results: list[Result], year: int, caf: str, departement: Departement | None = None) -> str:
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
    if departement is not None:
        name = (Markup('<a href="{}">{}</a>').format(departement.rapport, departement.nom) if departement.rapport
                else departement.nom)
        rows.append([Markup("<strong>{}</strong>").format(name), departement.personnes, departement.taux, "–"])
    title = f"Portraits des EPCI {year} — {caf}"
    soup = BeautifulSoup(render("territoires.html.j2", title=title, description=title, css=_css(), year=year, caf=caf,
                                rows=rows, failed=sum(1 for r in results if r.erreur), departement=departement),
                         "html.parser")
    typographie(soup)  # French spaces, as in the report's pages
    return str(soup)


def _combined_pdf(results: list[Result], folder: Path, year: int, caf: str, front: dict | None = None) -> Path:
    """All portraits in one PDF, after a cover, a contents page giving each one's first page and a method note.
    `front`: the cover's `published` date, `date_obs` and `departement` name."""
    from markupsafe import Markup
    from weasyprint import HTML

    from helpers.report.assemble import _css
    from helpers.report.templating import render

    ok = [r for r in results if not r.erreur]
    front = {"published": "", "date_obs": "", "departement": "", **(front or {})}

    def contents(first_page: int, methode: int) -> str:
        page, entries = first_page, []
        for r in ok:  # each portrait's page count is its own PDF's, written by _one
            entries.append((r.nom, page))
            page += r.pages
        title = f"Portraits des EPCI {year} — {caf}"
        # the first pages are numbered in their own document: no « page 1 / 1 » at their foot
        css = _css() + Markup("@page { @bottom-right { content: none; } }")
        return render("territoires-sommaire.html.j2", title=title, description=title, css=css, year=year,
                      caf=caf, entries=entries, methode=methode, **front)

    def note_page(doc) -> int:
        return next(i for i, pg in enumerate(doc.pages, start=1) if "methode" in pg.anchors)

    toc = HTML(string=contents(3, 2)).render()  # a cover, then the contents and the method note
    if (len(toc.pages), note_page(toc)) != (2, 2):  # a longer contents shifts the page numbers
        toc = HTML(string=contents(1 + len(toc.pages), note_page(toc))).render()
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


def _departement(results: list[Result], p, out: Path) -> Departement | None:
    from helpers.params import departement_row

    done = [r for r in results if not r.erreur]
    if not done:
        return None
    row = departement_row(p.departement, p.reference_dir)
    return Departement(row["nom"] if row else f"Département {p.departement}", done[0].dep_personnes,
                       done[0].dep_taux, rapport_departement(out, p.year, p.departement),
                       any(r.illustratif for r in done))


def run_territoires(year, departement, params_file, overrides: dict, epci: list[str] | None, out: Path | None,
                    executor: str | None = None) -> int:
    """`executor` "dask://HOST:PORT": the portraits' notebooks are executed on that Dask cluster (build.Remote)."""
    from helpers import sortie
    from helpers.params import resolve

    resolved = resolve(year, departement, params_file, overrides, cli_extra={"chapters": ["territoire"]})
    p = resolved.params
    target = sortie.normaliser(Path(out or config.OUTPUTS_DIR / "territoires" / str(p.year)))
    names = _epci_names(p, _portraits_dir(target))
    if not names:
        raise ParamError(f"--departement\u00a0: aucun EPCI connu pour le département {p.departement} "
                         "(data/reference/epci.csv)")
    wanted = list(names) if not epci or epci == ["all"] else epci
    unknown = [s for s in wanted if s not in names]
    if unknown:
        raise ParamError(f"--epci\u00a0: SIREN inconnu pour le département {p.departement}\u00a0: {', '.join(unknown)} "
                         f"(EPCI connus\u00a0: {', '.join(sorted(names))})")
    from helpers import interruption
    from helpers.build import input_folders

    out = sortie.verifier(target, input_folders(resolved, params_file),
                          racine=config.ROOT)  # the folder is the tool's own, never an input: refused before anything
    from helpers import build as engine
    from helpers import cache
    from helpers.data.memo import scope

    t0 = time.monotonic()
    sortie.nettoyer_abandons(out)
    folder = _portraits_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    _epci_names(p, folder, names)
    # One build engine for reports and portraits: each portrait is a report of one chapter (04_territoire for one
    # EPCI), checked, keyed and cached like any build, its kernel reused from one portrait to the next, the
    # département's inputs read once for all (helpers.data.memo); an unchanged portrait is not run again.
    reports = []
    for s in wanted:
        ov = {**overrides, "territoire": s}
        one = resolve(year, departement, params_file, ov, cli_extra={"chapters": ["territoire"], "formats": ["html"]})
        reports.append(engine.Report(one, folder / s, params_file, ov, ["territoire"], ["html"], label=f"{names[s]} · "))
    log.info("Portraits de %s EPCI", len(wanted))
    level = logging.getLogger("rapport").level
    logging.getLogger("rapport").setLevel(max(level, logging.WARNING))  # one line per portrait, not the builds'
    done: dict[int, Result] = {}
    keys: dict[str, str] = {}
    pdfs: dict[str, object] = {}
    pool: list[ProcessPoolExecutor] = []  # started at the first PDF to lay out: nothing to do, no process

    def published(i: int, written) -> None:
        """A portrait just built (or unchanged): its figures for the index, and its PDF laid out in a worker
        process while the next portraits' kernels run."""
        r = reports[i]
        s = r.overrides["territoire"]
        try:
            done[i], keys[s] = _collect(r, written, folder, names[s])
        except RapportError as exc:
            done[i] = Result(s, names[s], erreur=str(exc))
            return
        if not done[i].pages:
            if not pool:
                pool.append(_pdf_pool(len(wanted)))
            pdfs[s] = pool[0].submit(_pdf, str(r.out / f"rapport-{p.year}-territoire.html"), str(folder / f"{s}.pdf"))

    try:
        with scope():
            built = engine.run(reports, keep_going=True, on_done=published, executor=executor)
        results: list[Result] = []
        for i, (r, w) in enumerate(zip(reports, built)):
            s = r.overrides["territoire"]
            res = done.get(i) or Result(s, names[s], erreur=str(w) if isinstance(w, RapportError) else "portrait absent")
            if s in pdfs and not res.erreur:
                try:
                    res.pages = pdfs[s].result()
                except Exception as exc:  # one EPCI's failure never stops the others
                    res.erreur = f"PDF du portrait impossible ({type(exc).__name__}\u00a0: {exc})"
            results.append(res)
    finally:
        for one in pool:
            one.shutdown(wait=True, cancel_futures=True)
        logging.getLogger("rapport").setLevel(level)
    for r in results:
        log.info("%s : %s", r.nom, "échec" if r.erreur else "fait")
    for r in results:
        if not r.erreur:
            _keep(folder, r, keys[r.siren])
    results.sort(key=lambda r: cle_francaise(r.nom))
    dep = _departement(results, p, out)
    # the folder as a whole: what each portrait's build key says, the order, and the département's report link
    key = cache.sha256_text(json.dumps([cache.code_digest(), [(r.siren, keys.get(r.siren), r.erreur) for r in results],
                                        dep.rapport if dep else None], ensure_ascii=False))
    record = cache.read_record(out) if out.is_dir() else None
    if (record is not None and record.get("cle") == key and not any(r.erreur for r in results)
            and cache.published_intact(out, record)):
        print(f"rien n’a changé depuis la dernière construction{sortie.ESP}: {sortie.g(out)} est à jour "
              f"({fmt.pluriel(len(results), 'portrait')}){sortie.ESP}; rien n’a été réécrit.")
        return 0
    publish = sortie.preparer(out, annee=p.year)
    staging = Path(tempfile.mkdtemp(prefix=f"rapport-territoires-{os.getpid()}-"))
    sortie.ecrire_marque(staging)  # removed by a later command if this process is killed outright
    try:
        for i, r in enumerate(results):  # navigation inside the published folder, once the order is known
            if not r.erreur:
                page = (folder / r.siren / f"rapport-{p.year}-territoire.html").read_text(encoding="utf-8")
                (staging / f"{r.fichier}.html").write_text(_navigation(page, results, i, dep.rapport if dep else None),
                                                           encoding="utf-8")
                shutil.copyfile(folder / f"{r.siren}.pdf", staging / f"{r.fichier}.pdf")
        (staging / "index.html").write_text(_index(results, p.year, p.caf_name, dep), encoding="utf-8")
        if any(not r.erreur for r in results):
            from datetime import date

            _combined_pdf(results, staging, p.year, p.caf_name,
                          {"published": fmt.date_longue(date.today()), "departement": dep.nom if dep else "",
                           "date_obs": fmt.date_longue(p.observation_date)})
        files = sorted(f.name for f in staging.iterdir() if not f.name.startswith("."))
        cache.write_record(staging, key, {s: {"cle": k} for s, k in keys.items()}, ["html", "pdf"], files)
        for f in staging.iterdir():
            if not f.name.startswith(".") or f.name == cache.RECORD:
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


def _pdf_pool(n: int) -> ProcessPoolExecutor:
    """Worker processes for the portraits' PDFs, as many as cores: forked from a server that imported WeasyPrint
    and the package once, not from this process and its threads; each dies with the command."""
    import multiprocessing

    from helpers.build import default_jobs

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["helpers.report.assemble", "weasyprint"])
    pool = ProcessPoolExecutor(max_workers=max(1, min(default_jobs(), n)), mp_context=ctx,
                               initializer=_die_with_parent, initargs=(os.getpid(),))
    return pool
