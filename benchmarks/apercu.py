"""The analyst's loop in `rapport preview`, measured as the analyst lives it (issue 23, item 2):

(l) the first page: from the command's start to the report served on 127.0.0.1;
(m) a sentence added to a Markdown cell (03_cooperation.ipynb), saved: time until the open page shows it;
(n) a line added to a code cell of the same notebook, saved: time until the open page shows its text.

    .venv/bin/python benchmarks/apercu.py [--runs 3]

The page is open in Debian's Chromium (playwright) and reloads itself, as the analyst's; without Chromium, the
served page is polled instead (said in the detail). The notebooks, params/ and data/ are copied into a temporary
project (RAPPORT_ROOT): the project's own files are never modified. `measure()` gives the rows to bench.py.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
YEAR = "2023"
NOTEBOOK = "03_cooperation.ipynb"
CHROMIUM = Path("/usr/bin/chromium")


def fr(x: float, d: int = 1) -> str:
    return f"{x:.{d}f}".replace(".", ",")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode("utf-8")
    except OSError:
        return ""


def _save(path: Path, nb: dict) -> None:
    """As an editor saves: the whole file written at once."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _cell(nb: dict, kind: str, test) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == kind and test("".join(c["source"])))


def measure(runs: int = 3) -> list[tuple[str, str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="rapport-bench-apercu-"))
    project = tmp / "projet"
    for name in ("notebooks", "params", "data"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("cache", ".ipynb_checkpoints"))
    env = {**os.environ, "RAPPORT_ROOT": str(project), "TMPDIR": str(tmp), "PATH": f"{BIN}{os.pathsep}"
           f"{os.environ.get('PATH', '')}"}
    env.pop("CI", None)
    port = _port()
    url = f"http://127.0.0.1:{port}/rapport-{YEAR}.html"
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "rapport"), "preview", "--year", YEAR, "--no-browser", "--port", str(port)],
                            cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows: list[tuple[str, str, str]] = []
    try:
        while "id=\"contenu\"" not in (page := _get(url)) and "<main" not in page:
            if proc.poll() is not None:
                raise SystemExit(f"rapport preview s’est arrêté (code {proc.returncode}) :\n{proc.stderr.read()[-3000:]}")
            if time.perf_counter() - t0 > 600:
                raise SystemExit("rapport preview : pas de page après 600 s")
            time.sleep(0.05)
        first = time.perf_counter() - t0
        rows.append(("(l) aperçu : première page servie (objectif ≤ 5 s)", f"{fr(first)} s",
                     "atteint" if first <= 5 else f"manqué de {fr(first - 5)} s"))
        nb_path = project / "notebooks" / NOTEBOOK
        browser = None
        if CHROMIUM.exists():
            sys.path.insert(0, str(ROOT / "tests"))
            from headless import chromium  # Debian's Chromium driven by playwright, a fresh profile
            browser = chromium()
        how = "page ouverte dans Chromium, rechargée par l’aperçu" if browser else "page servie interrogée (sans Chromium)"

        def shown(text: str, page, t: float) -> float:
            """Seconds from `t` (the save) until `text` is on the open page (or in the served page)."""
            if page is not None:
                page.wait_for_function("(t) => document.body && document.body.innerText.includes(t)", arg=text,
                                       timeout=120_000, polling=20)
            else:
                while text not in _get(url):
                    if time.perf_counter() - t > 120:
                        raise SystemExit(f"« {text} » absent de l’aperçu après 120 s")
                    time.sleep(0.02)
            return time.perf_counter() - t

        def edits(page, kind: str, start: str, text_of, added) -> list[float]:
            """`runs` saves of the cell of `kind` whose source starts with `start`, each adding `added(text)`."""
            times = []
            for i in range(runs):
                nb = json.loads(nb_path.read_text(encoding="utf-8"))
                cell = _cell(nb, kind, lambda s: s.startswith(start))
                text = text_of(i + 1)
                cell["source"] = "".join(cell["source"]) + added(text)
                t = time.perf_counter()
                _save(nb_path, nb)
                times.append(shown(text, page, t))
                time.sleep(0.5)
            return times

        def loop(page) -> tuple[list[float], list[float]]:
            return (edits(page, "markdown", "Ces postes peuvent", lambda n: f"Phrase de mesure {n} de l’aperçu.",
                          lambda text: f" {text}"),
                    edits(page, "code", "recit = cooperation.recit", lambda n: f"Ligne de code de mesure {n}.",
                          lambda text: f"\npage.texte({text!r})"))

        if browser is not None:
            with browser as context:
                page = context.new_page()
                page.goto(url, wait_until="load")
                prose, code = loop(page)
        else:
            prose, code = loop(None)
        mp, mc = statistics.median(prose), statistics.median(code)
        rows.append(("(m) aperçu : phrase ajoutée dans une cellule Markdown, à l’écran (objectif ≤ 0,5 s)",
                     f"{fr(mp, 2)} s", ("atteint" if mp <= 0.5 else f"manqué de {fr(mp - 0.5, 2)} s") +
                     f" ; min {fr(min(prose), 2)}, max {fr(max(prose), 2)} ({runs} essais) ; {how}"))
        rows.append(("(n) aperçu : ligne ajoutée dans une cellule de code, à l’écran (objectif ≤ 2 s)",
                     f"{fr(mc, 2)} s", ("atteint" if mc <= 2 else f"manqué de {fr(mc - 2, 2)} s") +
                     f" ; min {fr(min(code), 2)}, max {fr(max(code), 2)} ({runs} essais) ; chapitre réexécuté "
                     f"dans un noyau déjà démarré ; {how}"))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description="Mesure la boucle de l’analyste dans rapport preview.")
    ap.add_argument("--runs", type=int, default=3)
    for label, value, detail in measure(ap.parse_args().runs):
        print(f"{label}  {value}  {detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
