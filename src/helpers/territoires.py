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
    part_habitants_couverts: str = ""
    erreur: str | None = None
    secondes: float = 0.0
    pages: int = 0  # of its own PDF
    dep_personnes: str = ""  # the département's figures, for the index's département row
    dep_part_habitants_couverts: str = ""
    illustratif: bool = False  # the portrait shows a figure marked illustrative
    cle: str = ""  # its build's key


# a portrait's figures shown in the index (its row and the département's), kept between runs with its build key
INDEX_VALUES = ("personnes", "part_habitants_couverts", "dep_personnes", "dep_part_habitants_couverts")


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
    from helpers.report import pdf

    return pdf.portrait(Path(page).read_text(encoding="utf-8"), Path(target))  # relative links, as published


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
        v = {k: full[k] for k in INDEX_VALUES}
        kept = {"cle": key, "valeurs": v}  # the PDF below is made again: no page count kept
    for k in INDEX_VALUES:
        setattr(res, k, v[k])
    page = (r.out / f"rapport-{r.resolved.params.year}-territoire.html").read_text(encoding="utf-8")
    res.illustratif = "marque-illustratif" in page
    pdf = folder / f"{siren}.pdf"
    from helpers.report.pdf import socle_path

    # its PDF and its socle (what the combined PDF is made of), as kept: else both are laid out again
    intact = all(f.is_file() and not f.is_symlink() and cache.sha256_file(f) == kept.get(name)
                 for name, f in (("pdf", pdf), ("socle", socle_path(pdf))))
    res.pages = kept.get("pages", 0) if intact else 0  # 0: its PDF is made (again)
    return res, key


def _keep(folder: Path, res: Result, key: str) -> None:
    """What the next run reuses when the portrait's build key is the same: its figures, its PDF's digest and pages."""
    import json

    from helpers import cache
    from helpers.report.pdf import socle_path

    memo = _memo_path(folder, res.siren)
    pdf = folder / f"{res.siren}.pdf"
    memo.write_text(json.dumps({"cle": key, "pages": res.pages, "pdf": cache.sha256_file(pdf),
                                "socle": cache.sha256_file(socle_path(pdf)),
                                "valeurs": {k: getattr(res, k) for k in INDEX_VALUES}},
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
    part_habitants_couverts: str
    rapport: str | None = None  # relative link to the département's report, when it exists
    illustratif: bool = False  # some figure of the portraits reads illustrative register rows


def rapport_departement(out: Path, year: int, departement: str) -> str | None:
    """The département's report beside the portraits' folder (outputs/ANNÉE or outputs/DÉP/ANNÉE, built for the
    same département, as its provenance says), as a link relative to `out`; None when it is not published."""
    import json

    # outputs/territoires/ANNÉE or outputs/territoires/DÉP/ANNÉE -> outputs
    bases = [out.parent.parent] + ([out.parent.parent.parent] if out.parent.name == departement else [])
    for folder in (f for base in bases for f in (base / str(year), base / departement / str(year))):
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
            rows.append([Markup('<a href="{}.html">{}</a>').format(r.fichier, r.nom), r.personnes, r.part_habitants_couverts,
                         Markup('<a href="{}.pdf">PDF</a>').format(r.fichier)])
    if departement is not None:
        name = (Markup('<a href="{}">{}</a>').format(departement.rapport, departement.nom) if departement.rapport
                else departement.nom)
        rows.append([Markup("<strong>{}</strong>").format(name), departement.personnes, departement.part_habitants_couverts, "–"])
    title = f"Portraits des EPCI {year} — {caf}"
    soup = BeautifulSoup(render("territoires.html.j2", title=title, description=title, css=_css(), year=year, caf=caf,
                                rows=rows, failed=sum(1 for r in results if r.erreur), departement=departement),
                         "html.parser")
    typographie(soup)  # French spaces, as in the report's pages
    return str(soup)


def _combined_pdf(results: list[Result], folder: Path, socles: Path, year: int, caf: str,
                  front: dict | None = None) -> Path:
    """All portraits in one PDF, after a cover, a contents page giving each one's first page and a method note.
    `front`: the cover's `published` date, `date_obs` and `departement` name; `socles`: the folder of the
    portraits' socles (`SIREN.socle.pdf`, report/pdf.py), whose pages are numbered from their place in the whole
    instead of laying each portrait out again."""
    import io

    from markupsafe import Markup
    from weasyprint import HTML

    from helpers.report import pdf
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
    buf = io.BytesIO()
    toc.write_pdf(buf)
    target = folder / f"portraits-{year}.pdf"
    pdf.combined(buf.getvalue(), [(r.nom, pdf.socle_path(socles / f"{r.siren}.pdf")) for r in ok], target)
    return target


def _departement(results: list[Result], p, out: Path) -> Departement | None:
    from helpers.params import departement_row

    done = [r for r in results if not r.erreur]
    if not done:
        return None
    row = departement_row(p.departement, p.reference_dir)
    return Departement(row["nom"] if row else f"Département {p.departement}", done[0].dep_personnes,
                       done[0].dep_part_habitants_couverts, rapport_departement(out, p.year, p.departement),
                       any(r.illustratif for r in done))


@dataclass
class Plan:
    """One département's portraits in a run: its parameters, its EPCI, its published folder and its builds."""
    p: object
    names: dict[str, str]
    wanted: list[str]
    out: Path
    folder: Path
    reports: list
    start: int = 0  # index of its first build in the run's list


def _plan(year, departement, params_file, overrides: dict, epci: list[str] | None, out: Path | None,
          several: bool = False) -> Plan:
    """Check a département's portraits before anything runs: parameters, its EPCI (`epci`: SIRENs; with several
    départements, those of this one), the output folder (`several`: `out` is the base, its folder `out/DÉP/ANNÉE`).
    Raises ParamError or DataError."""
    from helpers import build as engine
    from helpers import sortie
    from helpers.build import input_folders
    from helpers.params import resolve

    resolved = resolve(year, departement, params_file, overrides, cli_extra={"chapters": ["territoire"]})
    p = resolved.params
    if several:
        out = Path(out) / p.departement / str(p.year)
    target = sortie.normaliser(Path(out or config.OUTPUTS_DIR / "territoires" / str(p.year)))
    names = _epci_names(p, _portraits_dir(target))
    if not names:
        raise ParamError(f"--departement\u00a0: aucun EPCI connu pour le département {p.departement} "
                         "(data/reference/epci.csv)")
    if several:
        wanted = [s for s in names if not epci or epci == ["all"] or s in epci]
    else:
        wanted = list(names) if not epci or epci == ["all"] else epci
        unknown = [s for s in wanted if s not in names]
        if unknown:
            raise ParamError(f"--epci\u00a0: SIREN inconnu pour le département {p.departement}\u00a0: "
                             f"{', '.join(unknown)} (EPCI connus\u00a0: {', '.join(sorted(names))})")
    out = sortie.verifier(target, input_folders(resolved, params_file),
                          racine=config.ROOT)  # the folder is the tool's own, never an input: refused before anything
    folder = _portraits_dir(out)
    # One build engine for reports and portraits: each portrait is a report of one chapter (04_territoire for one
    # EPCI), checked, keyed and cached like any build, its kernel reused from one portrait to the next, the
    # département's inputs read once for all (helpers.data.memo); an unchanged portrait is not run again.
    reports = []
    label = f"{p.departement} · " if several else ""
    for s in wanted:
        ov = {**overrides, "territoire": s}
        one = resolve(year, departement, params_file, ov, cli_extra={"chapters": ["territoire"], "formats": ["html"]})
        reports.append(engine.Report(one, folder / s, params_file, ov, ["territoire"], ["html"],
                                     label=f"{label}{names[s]} · "))
    return Plan(p, names, wanted, out, folder, reports)


@dataclass
class Bilan:
    """What a département's run gives the national index: its row, or why it failed."""
    code: str
    nom: str = ""
    index: str = ""  # relative link to its portraits' index
    portraits: int = 0
    echecs: int = 0
    personnes: str = ""
    part_habitants_couverts: str = ""
    rapport: str | None = None
    erreur: str | None = None


def run_territoires(year, departement, params_file, overrides: dict, epci: list[str] | None, out: Path | None,
                    executor: str | None = None) -> int:
    """The portraits of a département's EPCI (`departement` one code), or of several (« 17,2A », « all »: each
    département in `outputs/territoires/DÉP/ANNÉE`, a national index in `outputs/territoires/france/ANNÉE`), all
    on one build engine: their kernels share the cores, a département that fails does not stop the others.
    `executor` "dask://HOST:PORT": the portraits' notebooks are executed, and their PDFs laid out, on that Dask
    cluster (build.Remote)."""
    from helpers import batch, sortie

    deps = batch.departements(departement)
    several = len(deps) > 1
    base = Path(out or config.OUTPUTS_DIR / "territoires")
    plans: list[Plan] = []
    refused: list[Bilan] = []
    for dep in deps:
        try:
            plan = _plan(year, dep, params_file, overrides, epci, base if several else out, several)
        except RapportError as exc:
            if not several:
                raise
            refused.append(Bilan(str(dep), erreur=str(exc)))
            continue
        if plan.wanted:
            plans.append(plan)
    if several and epci and epci != ["all"]:
        unknown = [s for s in epci if not any(s in pl.names for pl in plans)]
        if unknown:
            raise ParamError(f"--epci\u00a0: SIREN inconnu pour les départements {', '.join(map(str, deps))}\u00a0: "
                             f"{', '.join(unknown)}")
    if several and not plans:
        raise ParamError("--departement\u00a0: aucun portrait à construire (" +
                         "\u00a0; ".join(f"{b.code}\u00a0: {b.erreur.splitlines()[0]}" for b in refused) + ")")
    national = None
    if several:
        from helpers.build import input_folders
        national = sortie.verifier(sortie.normaliser(base / "france" / str(year)),
                                   input_folders(plans[0].reports[0].resolved, params_file), racine=config.ROOT)
    t0 = time.monotonic()
    reports = []
    for plan in plans:
        sortie.nettoyer_abandons(plan.out)
        plan.folder.mkdir(parents=True, exist_ok=True)
        _epci_names(plan.p, plan.folder, plan.names)
        plan.start = len(reports)
        reports += plan.reports
    log.info("Portraits de %s EPCI%s", len(reports), f" ({fmt.pluriel(len(plans), 'département')})" if several else "")
    results = _build(plans, reports, executor)
    bilans, code = list(refused), 1 if refused else 0
    for plan, res in zip(plans, results):
        bilan, failed = _publish(plan, res, t0, quiet=several)
        bilans.append(bilan)
        code = max(code, failed)
    if national is not None:
        wrote = _publish_national(national, bilans, year)
        for b in refused:
            print(f"Échec\u00a0: département {b.code}\u00a0: {b.erreur.splitlines()[0]}")
        what = (f"{fmt.pluriel(len(bilans) - len(refused), 'département')}, "
                f"{fmt.pluriel(sum(b.portraits for b in bilans), 'portrait')}")
        if wrote:
            print(f"écrit\u00a0: {national / 'index.html'} ({what}, {fmt.nombre(time.monotonic() - t0, 1)} s)")
        else:
            print(f"rien n’a changé depuis la dernière construction{sortie.ESP}: {sortie.g(national)} est à jour "
                  f"({what}){sortie.ESP}; rien n’a été réécrit.")
    return code


def _build(plans: list[Plan], reports: list, executor: str | None) -> list[list[Result]]:
    """Every portrait of every plan on one build engine; each one's figures, its PDF laid out (in worker processes
    here, or on the Dask cluster) while the next portraits' kernels run. Results per plan, in its EPCI order."""
    from helpers import build as engine
    from helpers.data.memo import scope

    owner = [next(pl for pl in plans if pl.start <= i < pl.start + len(pl.reports)) for i in range(len(reports))]
    level = logging.getLogger("rapport").level
    logging.getLogger("rapport").setLevel(max(level, logging.WARNING))  # one line per portrait, not the builds'
    done: dict[int, Result] = {}
    keys: dict[int, str] = {}
    pdfs: dict[int, object] = {}
    pool: list[ProcessPoolExecutor] = []  # started at the first PDF to lay out: nothing to do, no process
    remote = engine.Remote("tcp://" + executor.removeprefix("dask://")) if executor else None

    def published(i: int, written) -> None:
        """A portrait just built (or unchanged): its figures for the index, and its PDF laid out."""
        r, plan = reports[i], owner[i]
        s = r.overrides["territoire"]
        try:
            done[i], keys[i] = _collect(r, written, plan.folder, plan.names[s])
        except RapportError as exc:
            done[i] = Result(s, plan.names[s], erreur=str(exc))
            return
        if not done[i].pages:
            page, target = r.out / f"rapport-{plan.p.year}-territoire.html", plan.folder / f"{s}.pdf"
            if remote is not None:
                pdfs[i] = pool_remote.submit(remote.pdf, page.read_text(encoding="utf-8"), target, True)
            else:
                if not pool:
                    pool.append(_pdf_pool(len(reports)))
                pdfs[i] = pool[0].submit(_pdf, str(page), str(target))

    import concurrent.futures as cf
    pool_remote = cf.ThreadPoolExecutor(max_workers=max(2, remote.slots), thread_name_prefix="pdf") if remote else None
    try:
        with scope():
            built = engine.run(reports, keep_going=True, on_done=published, executor=remote)
        out: list[list[Result]] = [[] for _ in plans]
        for i, (r, w) in enumerate(zip(reports, built)):
            plan = owner[i]
            s = r.overrides["territoire"]
            res = done.get(i) or Result(s, plan.names[s],
                                        erreur=str(w) if isinstance(w, RapportError) else "portrait absent")
            if i in pdfs and not res.erreur:
                try:
                    res.pages = pdfs[i].result()
                except Exception as exc:  # one EPCI's failure never stops the others
                    res.erreur = f"PDF du portrait impossible ({type(exc).__name__}\u00a0: {exc})"
            res.cle = keys.get(i, "")
            out[plans.index(plan)].append(res)
    finally:
        for one in pool:
            one.shutdown(wait=True, cancel_futures=True)
        if pool_remote is not None:
            pool_remote.shutdown(wait=True, cancel_futures=True)
        if remote is not None:
            remote.close()
        logging.getLogger("rapport").setLevel(level)
    return out


def _publish(plan: Plan, results: list[Result], t0: float, quiet: bool = False) -> tuple[Bilan, int]:
    """Publish a département's portraits folder in one step (unless nothing changed): each portrait with its
    navigation, the index, the combined PDF. Returns its row of the national index and its exit code."""
    from helpers import cache, interruption, sortie

    p, out, folder = plan.p, plan.out, plan.folder
    for r in results:
        log.info("%s : %s", r.nom, "échec" if r.erreur else "fait")
    for r in results:
        if not r.erreur:
            _keep(folder, r, r.cle)
    results = sorted(results, key=lambda r: cle_francaise(r.nom))
    dep = _departement(results, p, out)
    failed = [r for r in results if r.erreur]
    bilan = Bilan(p.departement, dep.nom if dep else _nom_departement(p), "", len(results) - len(failed), len(failed),
                  dep.personnes if dep else "", dep.part_habitants_couverts if dep else "", dep.rapport if dep else None)
    # the folder as a whole: what each portrait's build key says, the order, and the département's report link
    key = cache.sha256_text(json.dumps([cache.code_digest(), [(r.siren, r.cle or None, r.erreur) for r in results],
                                        dep.rapport if dep else None], ensure_ascii=False))
    record = cache.read_record(out) if out.is_dir() else None
    if record is not None and record.get("cle") == key and not failed and cache.published_intact(out, record):
        if not quiet:
            print(f"rien n’a changé depuis la dernière construction{sortie.ESP}: {sortie.g(out)} est à jour "
                  f"({fmt.pluriel(len(results), 'portrait')}){sortie.ESP}; rien n’a été réécrit.")
        return bilan, 0
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

            _combined_pdf(results, staging, folder, p.year, p.caf_name,
                          {"published": fmt.date_longue(date.today()), "departement": dep.nom if dep else "",
                           "date_obs": fmt.date_longue(p.observation_date)})
        files = sorted(f.name for f in staging.iterdir() if not f.name.startswith("."))
        cache.write_record(staging, key, {r.siren: {"cle": r.cle} for r in results if r.cle}, ["html", "pdf"], files)
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
    for r in failed:
        print(f"Échec\u00a0: {r.nom} ({r.siren})\u00a0: {r.erreur.splitlines()[0]}")
    print(f"écrit\u00a0: {out / 'index.html'} ({fmt.pluriel(len(results) - len(failed), 'portrait')}, "
          f"{fmt.nombre(time.monotonic() - t0, 1)} s)")
    return bilan, 1 if failed else 0


def _nom_departement(p) -> str:
    from helpers.params import departement_row

    row = departement_row(p.departement, p.reference_dir)
    return row["nom"] if row else f"Département {p.departement}"


def _national_index(bilans: list[Bilan], year: int) -> str:
    """The national index: one row per département (its portraits' index, its report when published, its
    persons covered and rate), in the order of the département codes (01 … 2A, 2B … 95, 971 …)."""
    from bs4 import BeautifulSoup
    from markupsafe import Markup

    from helpers.report.assemble import _css, typographie
    from helpers.report.templating import render

    rows = []
    for b in sorted(bilans, key=lambda b: (len(b.code) > 2, b.code.replace("2A", "20A").replace("2B", "20B"))):
        if b.erreur:
            rows.append([b.nom or f"Département {b.code}", b.code,
                         Markup('<span class="echec">Échec{}: {}</span>').format(fmt.NBSP, b.erreur.splitlines()[0]),
                         "–", "–", "–"])
            continue
        portraits = Markup('<a href="{}">{}</a>').format(b.index, fmt.pluriel(b.portraits, "portrait"))
        if b.echecs:
            portraits += Markup(' <span class="echec">({} en échec)</span>').format(b.echecs)
        rows.append([b.nom, b.code, portraits, b.personnes or "–", b.part_habitants_couverts or "–",
                     Markup('<a href="{}">Rapport</a>').format(b.rapport) if b.rapport else "–"])
    title = f"Portraits des EPCI {year} — France"
    n = sum(b.portraits for b in bilans)
    soup = BeautifulSoup(render("territoires-france.html.j2", title=title, description=title, css=_css(), year=year,
                                rows=rows, departements=sum(1 for b in bilans if not b.erreur), portraits=n,
                                failed=sum(1 for b in bilans if b.erreur or b.echecs)), "html.parser")
    typographie(soup)
    return str(soup)


def _publish_national(out: Path, bilans: list[Bilan], year: int) -> bool:
    """The national index, published in one step like a département's folder, links relative to it; False when
    the one published is already this one (nothing written)."""
    from helpers import cache, interruption, sortie

    for b in bilans:
        if not b.erreur:
            b.index = os.path.relpath(out.parent.parent / b.code / str(year) / "index.html", out)
            if b.rapport:  # relative to the département's folder (a link, never followed): made relative to this one
                b.rapport = os.path.relpath(os.path.normpath(out.parent.parent / b.code / str(year) / b.rapport), out)
    from dataclasses import asdict

    key = cache.sha256_text(json.dumps([cache.code_digest(), [asdict(b) for b in bilans]], ensure_ascii=False))
    record = cache.read_record(out) if out.is_dir() else None
    if record is not None and record.get("cle") == key and cache.published_intact(out, record):
        return False
    publish = sortie.preparer(out, annee=year)
    try:
        (publish / "index.html").write_text(_national_index(bilans, year), encoding="utf-8")
        cache.write_record(publish, key, {}, ["html"], ["index.html"])
        with interruption.differe(publication=True):
            sortie.publier(publish, out)
    except BaseException:
        shutil.rmtree(publish, ignore_errors=True)
        raise
    return True


def _pdf_pool(n: int) -> ProcessPoolExecutor:
    """Worker processes for the portraits' PDFs, as many as cores: forked from a server that imported WeasyPrint
    and the package once, not from this process and its threads; each dies with the command."""
    import multiprocessing

    from helpers.build import default_jobs

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["helpers.report.assemble", "helpers.report.pdf", "weasyprint", "pypdf"])
    pool = ProcessPoolExecutor(max_workers=max(1, min(default_jobs(), n)), mp_context=ctx,
                               initializer=_die_with_parent, initargs=(os.getpid(),))
    return pool
