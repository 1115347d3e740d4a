"""Issue 24, the outputs, cache, record and preview half: each case reproduced, then kept here (beside the matrix of
test_hostile.py). The cache and the record are verified (an edited or truncated cache entry is executed again,
never published; a published file deleted or edited by hand means a rebuild), a dead build leaves nothing behind
for long, and the PDF's links to the provenance files are relative to the published folder."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import FAST

from helpers import build as build_mod
from helpers import cache, cli, sortie

ROOT = Path(__file__).resolve().parents[1]
NB = "03_cooperation.ipynb"


def run(terminal, *argv: str) -> tuple[int, str]:
    code = cli.main(["build", "--year", "2023", *FAST, *argv])
    cap = terminal.readouterr()
    return code, cap.out + cap.err


def entries(out: Path) -> list[Path]:
    return sorted((cache.folder_for(out) / "chapitres" / "cooperation").glob("*.ipynb"))


# --- the cache: an entry is checked against its digest -------------------------------------------------

def test_a_cache_entry_is_stored_with_its_digest_and_checked(tmp_path, caplog, monkeypatch):
    import logging
    monkeypatch.setattr(logging.getLogger("rapport"), "propagate", True)  # cli.main() turns it off
    caplog.set_level(logging.WARNING, logger="rapport")
    store = cache.Cache(tmp_path / ".cache")
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [{"source": "122 955"}], "nbformat": 4}), encoding="utf-8")
    store.put("portrait", "k1", nb)
    [entry] = (tmp_path / ".cache" / "chapitres" / "portrait").glob("k1.*.ipynb")
    assert entry.name == f"k1.{cache.sha256_file(nb)}.ipynb"
    assert store.get("portrait", "k1") == nb.read_bytes()
    entry.write_text(nb.read_text(encoding="utf-8").replace("122 955", "133 955"), encoding="utf-8")
    assert store.get("portrait", "k1") is None and not entry.exists()  # edited: removed, never reused
    assert "modifiée ou tronquée" in caplog.text and "réexécuté" in caplog.text
    store.put("portrait", "k1", nb)
    [entry] = (tmp_path / ".cache" / "chapitres" / "portrait").glob("k1.*.ipynb")
    entry.write_bytes(nb.read_bytes()[:20])  # truncated
    assert store.get("portrait", "k1") is None and not entry.exists()
    legacy = tmp_path / ".cache" / "chapitres" / "portrait" / "k2.ipynb"  # an entry without its digest
    legacy.write_bytes(nb.read_bytes())
    assert store.get("portrait", "k2") is None and not legacy.exists()


@pytest.mark.e2e
@pytest.mark.parametrize("damage", ["modifiee", "tronquee"])
def test_a_damaged_cache_entry_is_executed_again_never_published(tmp_path, terminal, damage):
    first = tmp_path / "a" / "2023"
    assert run(terminal, "--out", str(first))[0] == 0
    [entry] = entries(first)
    text = entry.read_text(encoding="utf-8")
    published = (first / "notebooks" / NB).read_text(encoding="utf-8")
    figure = re.search(r"\b\d{2}(?:\u00a0| )?\d{3}\b|\b\d+,\d\b", published)
    assert figure, "le notebook exécuté devrait contenir au moins un nombre"
    if damage == "modifiee":
        entry.write_text(text.replace(figure.group(0), "133 955"), encoding="utf-8")
    else:
        entry.write_bytes(entry.read_bytes()[: len(text) // 2])
    second = tmp_path / "a" / "2024-bis"  # another output beside it: same cache, no published record to trust
    code, err = run(terminal, "--out", str(second))
    assert code == 0, err
    assert "Erreur inattendue" not in err and "NotJSONError" not in err
    assert "cache : l’entrée du chapitre « cooperation »" in err and "réexécuté" in err
    assert "133 955" not in (second / "notebooks" / NB).read_text(encoding="utf-8")
    assert "133 955" not in (second / "rapport-2023.html").read_text(encoding="utf-8")
    [fresh] = entries(first)  # the damaged entry was replaced by the new execution's
    assert fresh.name.split(".")[1] == cache.sha256_file(fresh)


def pdf_links(pdf: Path) -> list[str]:
    from pypdf import PdfReader
    uris = []
    for page in PdfReader(pdf).pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A")
            if action is not None and action.get_object().get("/URI") is not None:
                uris.append(str(action.get_object()["/URI"]))
    return uris


# --- the record: « rien n'a changé » only when the published files are the ones published ---------------

@pytest.mark.e2e
def test_the_unchanged_fast_path_checks_the_published_files(tmp_path, terminal):
    out = tmp_path / "2023"
    pdf = ["--formats", "html,pdf"]
    assert run(terminal, "--out", str(out), *pdf)[0] == 0
    record = cache.read_record(out)
    assert set(record["fichiers"]) >= {"rapport-2023.pdf", "rapport-2023.html", f"notebooks/{NB}", "provenance.html"}
    assert record["fichiers"]["rapport-2023.pdf"] == cache.sha256_file(out / "rapport-2023.pdf")
    links = pdf_links(out / "rapport-2023.pdf")  # item 9: relative to the published folder, not the staging one
    assert "provenance.html" in links
    assert not [u for u in links if ".partiel-" in u or u.startswith("file:") or str(tmp_path) in u], links
    t = time.monotonic()
    code, err = run(terminal, "--out", str(out), *pdf)
    assert code == 0 and "est à jour" in err
    assert time.monotonic() - t < 5  # the fast path loads no data and starts no kernel (1 s on an idle machine)

    (out / "rapport-2023.pdf").unlink()  # deleted by hand
    code, err = run(terminal, "--out", str(out), *pdf)
    assert code == 0 and "est à jour" not in err and (out / "rapport-2023.pdf").is_file()

    page = out / "rapport-2023.html"
    good = page.read_bytes()
    page.write_bytes(good.replace(b"</body>", b"<p>ajout</p></body>"))  # edited in place, by hand
    code, err = run(terminal, "--out", str(out), *pdf)
    assert code == 0 and "est à jour" not in err
    assert b"<p>ajout</p>" not in (out / "rapport-2023.html").read_bytes()
    assert run(terminal, "--out", str(out), *pdf)[1].count("est à jour") == 1


# --- nothing left behind by a dead build ----------------------------------------------------------------

def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_the_fast_path_first_cleans_what_dead_builds_left(tmp_path, monkeypatch, terminal):
    out = tmp_path / "2023"
    monkeypatch.setattr(build_mod, "_unchanged", lambda r: "rien n’a changé (essai)")  # the fast path, always
    dead = _dead_pid()
    stale = tmp_path / f".2023.partiel-{dead}-abcdef"
    (stale / "notebooks").mkdir(parents=True)
    (stale / sortie.MARQUE).write_text(json.dumps({"outil": "rapport build", "pid": dead}), encoding="utf-8")
    tmp = Path(build_mod.tempfile.gettempdir())
    kernels = tmp / f"rapport-noyaux-{dead}-essai"
    kernels.mkdir(exist_ok=True)
    (kernels / "contexte.pickle").write_bytes(b"x")
    (kernels / sortie.MARQUE).write_text(json.dumps({"outil": "rapport build", "pid": dead}), encoding="utf-8")
    code, err = run(terminal, "--out", str(out))
    assert code == 0 and "rien n’a changé (essai)" in err
    assert not stale.exists() and not kernels.exists()


@pytest.mark.parametrize("prefix", ["rapport-noyaux-", "rapport-apercu-", "rapport-territoires-"])
def test_every_command_cleans_the_temporary_folders_of_dead_processes(tmp_path, monkeypatch, terminal, prefix):
    tmp = Path(build_mod.tempfile.gettempdir())
    dead = _dead_pid()
    stale, live, foreign = tmp / f"{prefix}{dead}-mort", tmp / f"{prefix}{os.getpid()}-vivant", tmp / f"{prefix}autre"
    for d in (stale, live, foreign):
        d.mkdir(exist_ok=True)
    (stale / sortie.MARQUE).write_text(json.dumps({"outil": "rapport build", "pid": dead}), encoding="utf-8")
    sortie.ecrire_marque(live)
    (foreign / "a-garder.txt").write_text("x", encoding="utf-8")  # no marker: not ours
    try:
        assert cli.main(["check", "--year", "2023"]) == 0
        assert not stale.exists() and live.is_dir() and foreign.is_dir()
    finally:
        for d in (stale, live, foreign):
            subprocess.run(["rm", "-rf", str(d)], check=False)


def test_a_refused_preview_creates_nothing(tmp_path, monkeypatch, terminal):
    import socket
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(build_mod.tempfile, "tempdir", None)  # TMPDIR read again
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        for argv in (["--port", str(taken)], ["--port", "80"], ["--year", "20x3"], ["--chapters", "inconnu"]):
            args = ["preview", "--no-browser", *(["--year", "2023"] if "--year" not in argv else []), *argv]
            code = cli.main(args)
            err = terminal.readouterr().err
            assert code == 2, err
            assert "Traceback" not in err
            assert list(tmp_path.iterdir()) == [], argv
    build_mod.tempfile.tempdir = None


@pytest.mark.e2e
def test_territoires_workers_die_with_their_parent(tmp_path):
    """kill -9 of `rapport territoires`: its worker processes (and their kernels) do not outlive it."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = tmp_path / "territoires"
    proc = subprocess.Popen([sys.executable, "-m", "helpers.cli", "territoires", "--year", "2023", "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)

    def children() -> list[int]:
        # psutil, not ps: procps is not in a minimal Debian (nor in the Makefile's package list)
        return [p.info["pid"] for p in psutil.process_iter(["pid", "ppid"]) if p.info["ppid"] == proc.pid]

    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 1:
        time.sleep(0.5)
        workers = children()
    assert workers, "aucun processus de travail n’a démarré"
    time.sleep(3)  # the workers have started their builds
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    alive = workers

    def running(pid: int) -> bool:
        try:
            return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
    while time.monotonic() < deadline and alive:
        time.sleep(0.5)
        alive = [w for w in workers if running(w)]
    for w in alive:  # a failing test leaves no orphan behind
        os.kill(w, 9)
    assert not alive, f"processus de travail encore vivants : {alive}"
    from conftest import kernel_processes
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and kernel_processes(tmp_path):
        time.sleep(0.5)
    assert not kernel_processes(tmp_path)


@pytest.mark.e2e
def test_after_a_kill_9_the_next_build_cleans_up_even_when_nothing_changed(tmp_path):
    """A build killed by SIGKILL runs no cleanup: its kernel stops by itself (ipykernel watches its parent), and the
    next build, although it takes the « rien n'a changé » fast path, removes the dead build's staging folder and
    its kernels' folder (pickles of the checked data, sockets)."""
    import shutil
    import tempfile

    from conftest import kernel_processes
    short = Path(tempfile.mkdtemp(prefix="rk-", dir="/tmp"))  # Unix socket paths are short
    try:
        env = {**os.environ, "TMPDIR": str(short)}
        out = tmp_path / "2023"
        cmd = [sys.executable, "-m", "helpers.cli", "-q", "build", "--year", "2023", *FAST, "--out", str(out)]
        assert subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True).returncode == 0
        published = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
        proc = subprocess.Popen([*cmd, "--force"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not kernel_processes(short):
            time.sleep(0.2)
        assert kernel_processes(short), "aucun noyau n’a démarré"
        proc.kill()
        proc.wait()
        assert list(tmp_path.glob(".2023.partiel-*")) and list(short.glob("rapport-noyaux-*"))  # left behind
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and kernel_processes(short):
            time.sleep(0.5)
        assert not kernel_processes(short), "le noyau a survécu à la construction tuée"
        done = subprocess.run(cmd[:3] + cmd[4:], env=env, cwd=ROOT, capture_output=True, text=True)
        said = (done.stdout + done.stderr).replace("\u00a0", " ")
        assert done.returncode == 0 and "est à jour" in said, said
        assert not list(tmp_path.glob(".2023.partiel-*")) and not list(short.glob("rapport-noyaux-*"))
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == published
    finally:
        shutil.rmtree(short, ignore_errors=True)
