"""The build cache: a changed input re-runs exactly the chapters that read it, cached and cold chapters are
identical, an unchanged build does nothing; batches and year/département lists."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import tree

from helpers import batch, cache, cli, config
from helpers.errors import ParamError

ROOT = Path(__file__).resolve().parents[1]


def _build(out: Path, registers: Path, *extra: str) -> int:
    return cli.main(["-q", "build", "--year", "2023", "--chapters", "ctg,cooperation", "--formats", "html",
                     "--set", f"registers_dir={registers}", "--out", str(out), *extra])


def _record(out: Path) -> dict:
    return json.loads((out / cache.RECORD).read_text(encoding="utf-8"))


@pytest.mark.e2e
def test_changed_register_reruns_only_its_chapter_and_cached_chapters_are_identical(tmp_path, terminal, monkeypatch):
    registers = tmp_path / "registres"
    shutil.copytree(ROOT / "data" / "registers", registers)
    out = tmp_path / "sorties" / "2023"
    assert _build(out, registers) == 0
    cold = _record(out)
    cold_ctg = (out / "rapport-2023-ctg.html").read_text(encoding="utf-8")
    assert (tmp_path / "sorties" / ".cache" / "chapitres" / "ctg").is_dir()
    assert not (ROOT / "data" / "cache" / "chapitres").exists()

    # nothing changed: nothing is done, the published report is untouched
    before = tree(out.parent)
    terminal.readouterr()
    assert _build(out, registers) == 0
    said = terminal.readouterr().out
    assert "rien n’a changé depuis la dernière construction :" in said
    assert tree(out.parent) == before

    # the cooperation register changes: only the cooperation chapter runs again
    posts = registers / "17" / "postes_cooperation.csv"
    posts.write_text(posts.read_text(encoding="utf-8").replace("P001;241700434;coopération;1.0;",
                                                               "P001;241700434;coopération;0.9;", 1), encoding="utf-8")
    ran = []
    from helpers import build as build_mod
    real = build_mod.execute
    monkeypatch.setattr(build_mod, "execute", lambda ch, *a, **k: (ran.append(ch), real(ch, *a, **k)))
    assert _build(out, registers) == 0
    assert ran == ["cooperation"]
    warm = _record(out)
    assert warm["chapitres"]["ctg"]["cle"] == cold["chapitres"]["ctg"]["cle"]
    assert warm["chapitres"]["cooperation"]["cle"] != cold["chapitres"]["cooperation"]["cle"]
    assert warm["cle"] != cold["cle"]
    # the ctg chapter taken from the cache is the same page as the one just executed
    assert (out / "rapport-2023-ctg.html").read_text(encoding="utf-8") == cold_ctg

    # --force runs everything again, and gives the same chapters; with one job, the cooperation notebook runs in
    # the kernel the ctg notebook just used (emptied in between): still the same page as in a kernel of its own
    fresh_coop = (out / "rapport-2023-cooperation.html").read_text(encoding="utf-8")
    ran.clear()
    assert _build(out, registers, "--force", "--jobs", "1") == 0
    assert ran == ["ctg", "cooperation"]
    assert (out / "rapport-2023-ctg.html").read_text(encoding="utf-8") == cold_ctg
    assert (out / "rapport-2023-cooperation.html").read_text(encoding="utf-8") == fresh_coop
    import nbformat
    counts = [c.execution_count for c in nbformat.read(out / "notebooks" / "03_cooperation.ipynb", 4).cells
              if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))  # numbered as in a fresh kernel
    assert _record(out)["chapitres"] == warm["chapitres"]


def test_chapter_key_follows_content_not_dates(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("x;y\n1;2\n", encoding="utf-8")
    nb = tmp_path / "n.ipynb"
    nb.write_text("{}", encoding="utf-8")
    fp = cache.Fingerprints(tmp_path / ".cache")

    def key(**kw):
        base = dict(chapter="ctg", notebook=nb, kernel="python3", params={"year": 2023}, injected={}, files=[f],
                    fingerprints=fp)
        return cache.chapter_key(**{**base, **kw})

    k = key()
    import os
    os.utime(f, ns=(1, 1))  # touched, same content
    assert key() == k
    f.write_text("x;y\n1;3\n", encoding="utf-8")
    assert key() != k
    assert key(params={"year": 2022}) != key()
    (tmp_path / "b.csv").write_text("", encoding="utf-8")  # a file appears beside the one read
    assert key() != cache.chapter_key("ctg", nb, "python3", {"year": 2023}, {}, [f], cache.Fingerprints(None),
                                      [tmp_path / "vide"])
    fp.save()
    assert json.loads((tmp_path / ".cache" / "empreintes.json").read_text())


def test_year_and_departement_lists():
    assert batch.years("2023") == ["2023"]
    assert batch.years("2021-2024") == ["2021", "2022", "2023", "2024"]
    assert batch.years("2021,2023-2024") == ["2021", "2023", "2024"]
    with pytest.raises(ParamError, match="à l’envers"):
        batch.years("2024-2021")
    with pytest.raises(ParamError, match="ni une année"):
        batch.years("2021-")
    assert batch.departements(None) == [None]
    assert batch.departements("17, 33") == ["17", "33"]
    assert "17" in batch.departements("all")


def test_batch_goes_on_past_failures_and_lists_them(tmp_path, terminal, monkeypatch):
    """2019 has no parameters, 2022 fails in its data check: both listed, the others built (kernels faked)."""
    from helpers import build as build_mod

    def fake_execute(ch, src, dst, parameters, kernels=None, on_cell=None):
        shutil.copyfile(src, dst)

    def fake_finish(r, progress, remote=None):
        return build_mod.Written([r.out / "x.html"], reran=list(r.futures))

    real_check = build_mod.check

    def check(resolved, chapters=None):
        if resolved.params.year == 2022:
            from helpers.errors import DataError, Problem
            raise DataError([Problem("registre.csv", "panne simulée", 3, "etp")])
        return real_check(resolved, chapters)

    monkeypatch.setattr(build_mod, "execute", fake_execute)
    monkeypatch.setattr(build_mod, "_finish", fake_finish)
    monkeypatch.setattr(build_mod, "check", check)
    code = cli.main(["-q", "build", "--year", "2019,2021-2023", "--chapters", "cooperation", "--formats", "html",
                     "--out", str(tmp_path)])
    cap = terminal.readouterr()
    assert code == 1
    assert "Échecs (2 sur 4)" in cap.err
    assert "2019 : erreur de paramètre" in cap.err and "2022 : erreur dans les données" in cap.err
    assert "panne simulée" in cap.err
    assert f"écrit : {tmp_path / '2021' / 'x.html'}" in cap.out and f"écrit : {tmp_path / '2023' / 'x.html'}" in cap.out


def test_several_departements_go_to_their_own_folders(tmp_path, terminal, monkeypatch):
    from helpers import build as build_mod
    seen = []

    def fake_run(reports, **kw):
        seen.extend(r.out for r in reports)
        return [build_mod.Written(unchanged="à jour") for _ in reports]

    monkeypatch.setattr(build_mod, "run", fake_run)
    assert cli.main(["-q", "build", "--year", "2022-2023", "--departement", "17,33", "--out", str(tmp_path)]) == 0
    assert seen == [tmp_path / "17" / "2022", tmp_path / "17" / "2023", tmp_path / "33" / "2022",
                    tmp_path / "33" / "2023"]
    assert cli.main(["-q", "build", "--year", "2022-2023"]) == 0
    assert seen[-2:] == [config.OUTPUTS_DIR / "2022", config.OUTPUTS_DIR / "2023"]


def test_bad_year_list_is_a_parameter_error(terminal):
    assert cli.main(["build", "--year", "2024-2021"]) == 2
    assert "à l’envers" in terminal.readouterr().err
    assert cli.main(["build", "--year", "2023", "--jobs", "0"]) == 2


def test_progress_plain_lines_when_piped_and_live_block_on_a_terminal(caplog):
    import io
    import logging

    from helpers.progress import Progress
    piped = Progress(stream=io.StringIO())
    assert not piped.live  # not a terminal
    with caplog.at_level(logging.INFO, logger="rapport"):
        piped.update("2023 · portrait", "démarrage du noyau")
        piped.update("2023 · portrait", "cellule 3/19", plain=False)  # never a line per cell
        piped.done("2023 · portrait", 4.25)
    assert [r.getMessage() for r in caplog.records] == ["2023 · portrait : démarrage du noyau",
                                                       "2023 · portrait : terminé en 4,2\u00a0s"]
    screen = io.StringIO()
    live = Progress(stream=screen, live=True)
    live.update("portrait", "cellule 1/19")
    live.update("ctg", "en attente")
    live.done("portrait", 2.0)
    live.message("rapport : une remarque")
    text = screen.getvalue()
    assert "\x1b[2F" in text and "portrait  terminé en 2,0\u00a0s" in text and "rapport : une remarque\n" in text
    assert not Progress(enabled=False, stream=screen).live


def test_executor_must_be_a_dask_address(terminal):
    assert cli.main(["build", "--year", "2023", "--executor", "spark://x:1"]) == 2
    assert "dask://HÔTE:PORT attendu" in terminal.readouterr().err
