"""Benchmark of the build (issue 11), one table measured in one run: `make bench`.

    .venv/bin/python benchmarks/bench.py [--runs 3] [--batch-runs 2] [--results benchmarks/RESULTS.md]

(a) `rapport build` cold (fresh output folder, hence empty cache): one year, 3 chapters, HTML and PDF;
(b) the plain chain most teams write, on the same notebooks and parameters: per chapter, the Papermill
    command line, `jupyter nbconvert --to html --no-input`, `python -m weasyprint`; and the ratio a/b;
    (a) and (b) are interleaved (a b, b a, a b, ...) so that a change of the machine's load hits both;
(c) rebuild with nothing changed;
(d) rebuild after one register file changed (the cooperation posts), and which chapters ran again;
(e) 5 years (2020-2024) in one batch, cold;
(f) loading and checking a national-size s_ben_com_f export: benchmarks/gros_export.py, if present;
(g) territorial portraits: rapport territoires for the 13 EPCI, one run, wall and CPU time;
(h) the same command again with nothing changed;
(i) scale: one batch of 1, 5 and 10 départements (the first with data), cold, one year, HTML and PDF: wall and CPU
    time per report and the peak memory of the whole process tree (the command, its kernels and workers), which
    must grow linearly, not faster;
(j) the portraits of every EPCI of every département with data (rapport territoires --departement all), cold:
    cost per portrait; from (i) and (j), the time of a national run (101 reports, 1 254 portraits) on N cores;
(l)-(n) rapport preview: first page, a Markdown edit and a code edit on screen (benchmarks/apercu.py).
Medians of the runs; every command is a fresh process, as a user runs it. Registers are copied to a
temporary folder (--set registers_dir=…): the project's data are never modified.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RAPPORT = BIN / "rapport"
NOTEBOOKS = ["01_portrait.ipynb", "02_ctg.ipynb", "03_cooperation.ipynb"]
YEAR = "2023"


def fr(x: float, d: int = 1) -> str:
    return f"{x:.{d}f}".replace(".", ",")


def timed(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"échec de {' '.join(map(str, cmd))} (code {proc.returncode}) :\n{proc.stderr[-3000:]}")
    return elapsed


def timed_cpu(cmd: list[str], **kw) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of the command and every process it started and waited for
    (its kernels and worker processes)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(cmd, **kw)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed_tree(cmd: list[str], **kw) -> tuple[float, float, float]:
    """Wall time, CPU time and peak memory (sum of the resident sizes of the command and all its descendants,
    sampled every 0,2 s, in Mio) of a command."""
    import resource
    import threading

    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)
    peak = [0.0]

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
            while proc.poll() is None:
                total = 0
                for one in [root, *root.children(recursive=True)]:
                    try:
                        total += one.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], total / 2**20)
                time.sleep(0.2)
        except psutil.Error:
            pass

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"échec de {' '.join(map(str, cmd))} (code {proc.returncode}) :\n{err[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), peak[0]


def with_data() -> list[str]:
    return sorted(d.name for d in (ROOT / "data" / "opendata").iterdir() if (d / "cafdata").is_dir())


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("RAPPORT_ROOT", str(ROOT))
    e.pop("CI", None)
    return e


def side_a(tmp: Path, i: int) -> float:
    out = tmp / f"a{i}" / YEAR  # a fresh parent: its .cache is empty
    return timed([str(RAPPORT), "-q", "build", "--year", YEAR, "--out", str(out)], env=env())


def side_b(tmp: Path, i: int) -> float:
    """The plain chain, chapter after chapter, as most teams write it."""
    work = tmp / f"b{i}"
    work.mkdir(parents=True)
    t = time.perf_counter()
    for nb in NOTEBOOKS:
        executed = work / nb
        timed([str(BIN / "papermill"), str(ROOT / "notebooks" / nb), str(executed), "-p", "year", YEAR,
               "-p", "departement", "17", "-k", "python3", "--cwd", str(ROOT / "notebooks")], env=env())
        timed([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)], env=env())
        timed([sys.executable, "-m", "weasyprint", str(executed.with_suffix(".html")),
               str(executed.with_suffix(".pdf"))], env=env())
    return time.perf_counter() - t


def record(out: Path) -> dict:
    return json.loads((out / ".construction.json").read_text(encoding="utf-8"))


def machine(load_before, load_after) -> list[str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f"{fr(kb / 1024 / 1024)} Gio"
    except (OSError, StopIteration, ValueError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [f"- Processeur : {model or platform.processor() or 'inconnu'} ; {cores} cœurs utilisables ; mémoire {mem}",
            f"- Système : {platform.platform()} ; Python {platform.python_version()}",
            f"- Charge moyenne (1, 5, 15 min) au début : {', '.join(fr(x, 2) for x in load_before)} ; "
            f"à la fin : {', '.join(fr(x, 2) for x in load_after)}"]


def main() -> int:
    ap = argparse.ArgumentParser(description="Mesure la construction du rapport (tableau du ticket 11).")
    ap.add_argument("--runs", type=int, default=3, help="essais de (a), (b), (d) (médianes)")
    ap.add_argument("--noop-runs", type=int, default=5, help="essais de (c)")
    ap.add_argument("--batch-runs", type=int, default=2, help="essais de (e), le plus long")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    a = ap.parse_args()
    load_before = os.getloadavg()
    started = dt.datetime.now().astimezone()
    tmp = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    rows: list[tuple[str, str, str]] = []
    notes: list[str] = []
    try:
        # (a) and (b), interleaved
        ta, tb = [], []
        for i in range(a.runs):
            order = (("a", side_a), ("b", side_b)) if i % 2 == 0 else (("b", side_b), ("a", side_a))
            for name, fn in order:
                (ta if name == "a" else tb).append(fn(tmp, i))
                print(f"essai {i + 1} ({name}) : {fr((ta if name == 'a' else tb)[-1])} s", flush=True)
        ma, mb = statistics.median(ta), statistics.median(tb)
        ratio = ma / mb
        rows.append(("(a) construction à froid, 2023, 3 chapitres, HTML et PDF", f"{fr(ma)} s",
                     f"min {fr(min(ta))}, max {fr(max(ta))} ({a.runs} essais)"))
        rows.append(("(b) chaîne simple (papermill, nbconvert --no-input, weasyprint, par chapitre)", f"{fr(mb)} s",
                     f"min {fr(min(tb))}, max {fr(max(tb))} ({a.runs} essais)"))
        rows.append(("ratio a/b (objectif ≤ 0,30)", fr(ratio, 2), "atteint" if ratio <= 0.3 else
                     f"manqué de {fr(ratio - 0.3, 2)} (a devrait durer {fr(0.3 * mb)} s)"))

        # (c) nothing changed, (d) one register changed
        registers = tmp / "registres"
        shutil.copytree(ROOT / "data" / "registers", registers)
        out = tmp / "c" / YEAR
        base = [str(RAPPORT), "-q", "build", "--year", YEAR, "--set", f"registers_dir={registers}", "--out", str(out)]
        timed(base, env=env())
        tc = [timed(base, env=env()) for _ in range(a.noop_runs)]
        mc = statistics.median(tc)
        rows.append(("(c) reconstruction, rien n’a changé (objectif ≤ 1 s)", f"{fr(mc, 2)} s",
                     ("atteint" if mc <= 1 else f"manqué de {fr(mc - 1, 2)} s") + f" ({a.noop_runs} essais)"))
        posts = registers / "17" / "postes_cooperation.csv"
        td, reran = [], set()
        for i in range(a.runs):
            before = record(out)["chapitres"]
            text = posts.read_text(encoding="utf-8")  # a new value each time: never a content already cached
            posts.write_text(re.sub(r"^(P001;\d+;[^;]*;)[0-9.]+;", rf"\g<1>0.{9 - i % 9};", text, count=1,
                                    flags=re.M), encoding="utf-8")
            td.append(timed(base, env=env()))
            after = record(out)["chapitres"]
            reran |= {ch for ch in after if after[ch]["cle"] != before[ch]["cle"]}
        md = statistics.median(td)
        rows.append(("(d) reconstruction après modification de postes_cooperation.csv", f"{fr(md)} s",
                     f"chapitres réexécutés : {', '.join(sorted(reran)) or 'aucun'} "
                     f"({'objectif atteint' if reran == {'cooperation'} else 'objectif manqué'}) ; {a.runs} essais"))

        # (e) five years in one batch, cold
        te = []
        for i in range(a.batch_runs):
            te.append(timed([str(RAPPORT), "-q", "build", "--year", "2020-2024", "--out", str(tmp / f"e{i}")],
                            env=env()))
            print(f"lot {i + 1} : {fr(te[-1])} s", flush=True)
        me = statistics.median(te)
        rows.append(("(e) 5 années (2020-2024) en un lot, à froid", f"{fr(me)} s",
                     f"{fr(me / ma, 2)} × (a) (objectif ≤ 2,5 × (a) = {fr(2.5 * ma)} s : "
                     f"{'atteint' if me <= 2.5 * ma else 'manqué de ' + fr(me - 2.5 * ma) + ' s'}) ; "
                     f"{a.batch_runs} essais"))

        # (f) the national-size export
        gros = ROOT / "benchmarks" / "gros_export.py"
        if gros.is_file():
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, str(gros)], cwd=ROOT, env=env(), capture_output=True, text=True)
            tf = time.perf_counter() - t
            last = (proc.stdout.strip().splitlines() or [""])[-1]
            rows.append(("(f) chargement et contrôle d’un export s_ben_com_f de taille nationale", f"{fr(tf)} s",
                         f"benchmarks/gros_export.py, code {proc.returncode}{' : ' + last if last else ''}"))
        else:
            rows.append(("(f) chargement et contrôle d’un export s_ben_com_f de taille nationale", "—",
                         "benchmarks/gros_export.py absent : mesure sautée"))
        # (g) the portraits of the 13 EPCI (rapport territoires), one run: the longest measure
        cmd_g = [str(RAPPORT), "-q", "territoires", "--year", YEAR, "--out", str(tmp / "g")]
        tg, cg = timed_cpu(cmd_g, env=env())
        n = len(list((tmp / "g").glob("*.pdf"))) - 1  # without the combined PDF
        rows.append(("(g) portraits des EPCI (rapport territoires), à froid", f"{fr(tg)} s",
                     f"{n} portraits HTML et PDF, index et PDF combiné ; {fr(tg / max(n, 1))} s par portrait ; "
                     f"temps processeur {fr(cg)} s, soit {fr(cg / max(n, 1))} s par portrait (objectif ≤ 1 s) ; 1 essai"))
        # (h) the same command again, nothing changed
        th = sorted(timed(cmd_g, env=env()) for _ in range(3))[1]
        rows.append(("(h) portraits des EPCI, rien n’a changé (objectif < 1 s)", f"{fr(th, 2)} s",
                     f"{'atteint' if th < 1 else 'manqué'} (3 essais, médiane)"))
        # (i) scale: batches of 1, 5, 10 départements
        deps = with_data()
        scale = []
        for n in (1, 5, 10):
            if n > len(deps):
                break
            wall, cpu, mem = timed_tree([str(RAPPORT), "-q", "build", "--year", YEAR, "--departement",
                                         ",".join(deps[:n]) if n > 1 else deps[0], "--out", str(tmp / f"i{n}")],
                                        env=env())
            scale.append((n, wall, cpu, mem))
            print(f"lot de {n} département(s) : {fr(wall)} s, {fr(cpu)} s de processeur, {fr(mem, 0)} Mio", flush=True)
        for n, wall, cpu, mem in scale:
            rows.append((f"(i) lot de {n} département{'s' if n > 1 else ''}, à froid", f"{fr(wall)} s",
                         f"{fr(wall / n)} s par rapport ; processeur {fr(cpu / n)} s par rapport ; "
                         f"mémoire maximale {fr(mem, 0)} Mio"))
        if len(scale) >= 2:
            (n0, w0, c0, m0), (n1, w1, c1, m1) = scale[0], scale[-1]
            growth, cpu_growth = (w1 / n1) / (w0 / n0), (c1 / n1) / (c0 / n0)
            rows.append(("(i) croissance du lot (objectif : linéaire)", fr(cpu_growth, 2),
                         f"processeur par rapport à {n1} départements / à 1 (temps écoulé : {fr(growth, 2)}) ; "
                         f"mémoire maximale {fr(m1 / m0, 2)} × pour {n1} × plus de rapports : " +
                         ("linéaire ou mieux" if cpu_growth <= 1.15 and m1 / m0 <= n1 else "plus que linéaire")))
        # (j) every EPCI of every département with data
        wall, cpu, mem = timed_tree([str(RAPPORT), "-q", "territoires", "--year", YEAR, "--departement", "all",
                                     "--out", str(tmp / "j")], env=env())
        portraits = sum(len(list(f.glob("*.pdf"))) - 1 for f in (tmp / "j").glob("*/" + YEAR) if f.is_dir())
        rows.append(("(j) portraits de tous les EPCI des départements livrés, à froid", f"{fr(wall)} s",
                     f"{portraits} portraits de {len(deps)} départements ; {fr(wall / max(portraits, 1), 2)} s "
                     f"par portrait ; processeur {fr(cpu / max(portraits, 1), 2)} s par portrait ; "
                     f"mémoire maximale {fr(mem, 0)} Mio"))
        if scale and portraits:
            n1, w1, c1, _ = scale[-1]
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            per_report, per_portrait = c1 / n1, cpu / portraits  # CPU seconds: what N cores share
            total = 101 * per_report + 1254 * per_portrait
            rows.append(("(k) exécution nationale estimée (101 rapports, 1 254 portraits)",
                         f"{fr(total / 60, 0)} min de processeur",
                         f"{fr(per_report)} s par rapport et {fr(per_portrait, 2)} s par portrait (temps processeur "
                         f"de (i) et (j)) ; sur N cœurs, environ {fr(total / 60, 0)}/N min : "
                         f"{fr(total / 60 / cores, 0)} min ici ({cores} cœurs), {fr(total / 60 / 16, 0)} min sur "
                         f"16, {fr(total / 60 / 64, 1)} min sur 64"))
        # (l)-(n) the analyst's loop in rapport preview (benchmarks/apercu.py)
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import apercu
        rows += apercu.measure(a.runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    width = max(len(r[0]) for r in rows)
    print()
    for r in rows:
        print(f"{r[0].ljust(width)}  {r[1]:>8}  {r[2]}")
    md_lines = [f"# Mesures de la construction ({started:%d/%m/%Y %H:%M})", "",
                "Produit par `make bench` (benchmarks/bench.py) : un seul passage, (a) et (b) alternés, médianes.", "",
                "| Mesure | Médiane | Détail |", "|---|---:|---|"]
    md_lines += [f"| {r[0]} | {r[1]} | {r[2]} |" for r in rows]
    md_lines += ["", "## Machine", "", *machine(load_before, load_after), ""]
    if max(load_before[0], load_after[0]) > (os.cpu_count() or 1) * 0.5:
        notes.append("La machine était chargée pendant la mesure (autres processus : voir la charge moyenne "
                     "ci-dessus) : les durées absolues sont pessimistes et bruitées ; (a) et (b) étant alternés, "
                     "leur rapport l’est moins.")
    if notes:
        md_lines += ["## Remarques", "", *[f"- {n}" for n in notes], ""]
    previous = a.results.read_text(encoding="utf-8") if a.results.is_file() else ""
    analysis = previous.split("<!-- analyse -->", 1)[1] if "<!-- analyse -->" in previous else ""
    a.results.write_text("\n".join(md_lines) + "\n<!-- analyse -->" + (analysis or "\n"), encoding="utf-8")
    print(f"\nécrit : {a.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
