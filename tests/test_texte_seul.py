"""The analyst's loop: when only the plain Markdown of a chapter's notebook changed (no code cell, no Markdown
cell with an {eval} expression), the build takes the chapter's last executed notebook for the same code, data
and parameters and puts the new prose in it: nothing is executed, the published chapter is what executing the
edited notebook gives. Any other change executes the chapter, as before."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from helpers import build, cli, config, narration

ROOT = Path(__file__).resolve().parents[1]
NB = "03_cooperation.ipynb"
PROSE = "Cette phrase n’existait pas à la construction précédente."


@pytest.fixture
def notebooks(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    shutil.copytree(config.NOTEBOOKS_DIR, folder)
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", folder)
    return folder


def _edit(folder: Path, index: int, change) -> None:
    nb = nbformat.read(folder / NB, as_version=4)
    nb.cells[index].source = change(nb.cells[index].source)
    nbformat.write(nb, folder / NB)


def _build(out: Path, *extra: str) -> build.Written:
    seen = {}
    real = build._finish

    def finish(r, progress, remote=None):
        seen["written"] = real(r, progress, remote)
        return seen["written"]

    build._finish = finish
    try:
        assert cli.main(["-q", "build", "--year", "2023", "--chapters", "cooperation", "--formats", "html",
                         "--out", str(out), *extra]) == 0
    finally:
        build._finish = real
    return seen.get("written")


def _chapter(out: Path) -> str:
    soup = BeautifulSoup((out / "rapport-2023.html").read_text(encoding="utf-8"), "html.parser")
    return str(soup.find(id="cooperation") or soup.find("main"))


def _plain_markdown_index(folder: Path) -> int:
    nb = nbformat.read(folder / NB, as_version=4)
    return next(i for i, c in enumerate(nb.cells)
                if c.cell_type == "markdown" and not narration.executed(c.source) and i > 0)


def test_digest_ignores_plain_prose_only(notebooks):
    before = narration.code_digest(notebooks / NB)
    i = _plain_markdown_index(notebooks)
    _edit(notebooks, i, lambda s: s + "\n\n" + PROSE)
    assert narration.code_digest(notebooks / NB) == before
    code = next(j for j, c in enumerate(nbformat.read(notebooks / NB, as_version=4).cells) if c.cell_type == "code" and j > 1)
    _edit(notebooks, code, lambda s: s + "\n")
    assert narration.code_digest(notebooks / NB) != before


@pytest.mark.e2e
def test_a_prose_edit_is_published_without_executing_anything(notebooks, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = _build(out)
    assert first.reran == ["cooperation"] and first.prose == []
    _edit(notebooks, _plain_markdown_index(notebooks), lambda s: s + "\n\n" + PROSE)

    def no_kernel(*a, **k):
        raise AssertionError("un chapitre a été exécuté alors que seul le texte a changé")

    with monkeypatch.context() as m:
        m.setattr(build, "execute", no_kernel)
        second = _build(out)
    assert second.reran == [] and second.prose == ["cooperation"]
    fast = _chapter(out)
    assert PROSE in fast
    # the same chapter as executing the edited notebook from nothing
    fresh = tmp_path / "fraiche"
    assert _build(fresh, "--force").reran == ["cooperation"]
    assert _chapter(fresh) == fast
    # unchanged now: nothing to do; the prose result is cached under the new notebook's key
    assert _build(out) is None


@pytest.mark.e2e
def test_a_code_edit_or_a_moved_cell_executes_the_chapter(notebooks, tmp_path):
    out = tmp_path / "out"
    _build(out)
    nb = nbformat.read(notebooks / NB, as_version=4)
    code = next(j for j, c in enumerate(nb.cells) if c.cell_type == "code" and j > 1)
    _edit(notebooks, code, lambda s: s + "\nassert True")
    assert _build(out).reran == ["cooperation"]
    # a plain Markdown cell added: the cells no longer line up with the executed notebook's
    nb = nbformat.read(notebooks / NB, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_markdown_cell(PROSE))
    nbformat.write(nb, notebooks / NB)
    again = _build(out)
    assert again.reran == ["cooperation"] and again.prose == []
    assert PROSE in _chapter(out)
