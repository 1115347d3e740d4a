"""The EPCI portraits on the build engine: each portrait is a build of its own, keyed and cached; a run with
nothing changed executes nothing and rewrites nothing; a changed input runs the portraits again; a cached
file edited by hand is never published. And the inputs shared by a batch, read once (helpers.data.memo)."""
import os
import shutil
import time
from pathlib import Path

import pytest

from helpers import build as build_mod
from helpers import cli
from helpers.data import memo
from helpers.territoires import _portraits_dir

ROOT = Path(__file__).resolve().parents[1]
RE = "241700459"  # CC de l'Île de Ré


def test_memo_reads_once_per_scope_and_again_when_a_file_changes(tmp_path):
    (tmp_path / "a.csv").write_text("1", encoding="utf-8")
    calls = []

    def loader(folder):
        calls.append(folder)
        return object()

    outside = [memo.cached("x", loader, tmp_path, folders=(tmp_path,)) for _ in range(2)]
    assert outside[0] is not outside[1] and len(calls) == 2  # no scope: nothing kept
    with memo.scope():
        first = memo.cached("x", loader, tmp_path, folders=(tmp_path,))
        assert memo.cached("x", loader, tmp_path, folders=(tmp_path,)) is first and len(calls) == 3
        assert memo.cached("y", loader, tmp_path, folders=(tmp_path,)) is not first  # another loader
        st = (tmp_path / "a.csv").stat()
        (tmp_path / "a.csv").write_text("2", encoding="utf-8")
        os.utime(tmp_path / "a.csv", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        assert memo.cached("x", loader, tmp_path, folders=(tmp_path,)) is not first  # changed: read again
        (tmp_path / "b.csv").write_text("3", encoding="utf-8")
        again = memo.cached("x", loader, tmp_path, folders=(tmp_path,))
        assert memo.cached("x", loader, tmp_path, folders=(tmp_path,)) is again and len(calls) == 6  # a new file too
    assert memo.cached("x", loader, tmp_path, folders=(tmp_path,)) is not again  # the scope ended


def _run(out: Path, *extra: str) -> int:
    return cli.main(["-q", "territoires", "--year", "2023", "--epci", RE, "--out", str(out), *extra])


def _published(out: Path) -> dict:
    return {f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in out.resolve().iterdir()}


@pytest.mark.e2e
def test_unchanged_portraits_run_nothing_and_a_change_runs_them_again(tmp_path, monkeypatch, terminal):
    registers = tmp_path / "registres" / "17"  # registers_dir holds a folder per département
    shutil.copytree(ROOT / "data" / "registers" / "17", registers)
    out = tmp_path / "territoires" / "2023"
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    terminal.readouterr()
    before = _published(out)

    executed = []
    real = build_mod.execute
    monkeypatch.setattr(build_mod, "execute", lambda *a, **k: (executed.append(a[0]), real(*a, **k))[1])
    # nothing changed: no kernel, nothing rewritten
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    assert "rien n’a changé" in terminal.readouterr().out
    assert not executed and _published(out) == before

    # a published file edited by hand: the folder is published again, from the portrait kept in the cache
    (out / "index.html").write_text("modifié", encoding="utf-8")
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    assert not executed and (out / "index.html").read_text(encoding="utf-8") == before["index.html"][1].decode()

    # a cached PDF edited by hand is never published: laid out again
    cached_pdf = _portraits_dir(out) / f"{RE}.pdf"
    cached_pdf.write_bytes(b"%PDF-1.7 falsifie")
    (out / "index.html").write_text("modifié", encoding="utf-8")
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    pdf = next(f for f in out.iterdir() if f.name.startswith(RE) and f.suffix == ".pdf")
    from pypdf import PdfReader
    assert b"falsifie" not in pdf.read_bytes()
    assert len(PdfReader(pdf).pages) == len(PdfReader(__import__("io").BytesIO(before[pdf.name][1])).pages)
    # so is its socle, of which the combined PDF is made
    socle = _portraits_dir(out) / f"{RE}.socle.pdf"
    socle.write_bytes(b"%PDF-1.7 falsifie")
    (out / "index.html").write_text("modifié", encoding="utf-8")
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    combined = out / "portraits-2023.pdf"
    assert b"falsifie" not in combined.read_bytes() and socle.read_bytes() != b"%PDF-1.7 falsifie"
    assert len(PdfReader(combined).pages) == len(PdfReader(__import__("io").BytesIO(before[combined.name][1])).pages)

    # a register touched, its content the same: nothing to run
    time.sleep(0.01)
    with open(registers / "postes_cooperation.csv", "a", encoding="utf-8") as f:
        f.write("")  # same content, new time: the key follows the content, nothing to run
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    assert not executed
    # a register the portrait does not read (the network's meetings), or another EPCI's rows of those it reads:
    # the executed portrait is taken from the cache, nothing executed
    text = (registers / "reunions_reseau.csv").read_text(encoding="utf-8")
    (registers / "reunions_reseau.csv").write_text(text.rstrip("\n").rsplit("\n", 1)[0] + "\n", encoding="utf-8")
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    assert not executed
    lines = (registers / "postes_cooperation.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    other = next(i for i, line in enumerate(lines) if i and f";{RE};" not in line)
    lines[other] = lines[other].replace("coopération", "thématique", 1)
    (registers / "postes_cooperation.csv").write_text("".join(lines), encoding="utf-8")
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    assert not executed
    # a row of its own EPCI: the portrait runs again
    mine = next(i for i, line in enumerate(lines) if f";{RE};" in line)
    lines[mine] = lines[mine].replace(";1.0;", ";0.9;", 1)
    (registers / "postes_cooperation.csv").write_text("".join(lines), encoding="utf-8")
    assert _run(out, "--set", f"registers_dir={registers.parent}") == 0
    assert executed == ["territoire"]


def test_territoires_executor_must_be_a_dask_address(terminal):
    assert cli.main(["territoires", "--year", "2023", "--executor", "spark://x:1"]) == 2
    assert "dask://HÔTE:PORT attendu" in terminal.readouterr().err
