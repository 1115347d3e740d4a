"""No unfinished page: in the PDF, every page but the last of a chapter or annex is at least a
third full; missing optional content leaves no bare heading and no apologetic sentence."""
from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from bs4 import BeautifulSoup
from PIL import Image
from pypdf import PdfReader
from reader_build import full_build

from helpers.report import annexes
from helpers.report.assemble import _drop_empty_sections

TOP, BOTTOM = 2.2 / 29.7, 2.0 / 29.7  # page margins of rapport.css (running header and footer outside)


def page_fill(pdf: Path, tmp: Path) -> list[float]:
    """Share of each page's text area used, from the lowest inked pixel row."""
    subprocess.run(["pdftoppm", "-gray", "-r", "30", str(pdf), str(tmp / "p")], check=True)
    out = []
    for f in sorted(tmp.glob("p-*.pgm")):
        im = Image.open(f)
        w, h = im.size
        top, bottom = int(h * TOP), int(h * (1 - BOTTOM))
        px = im.load()
        last = top
        for y in range(top, bottom):
            if any(px[x, y] < 200 for x in range(0, w, 2)):
                last = y
        out.append((last - top) / (bottom - top))
    return out


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> Path:
    return full_build(tmp_path_factory) / "rapport-2023.pdf"


def test_no_page_is_left_less_than_a_third_full(pdf, tmp_path):
    reader = PdfReader(pdf)
    starts = sorted(reader.get_destination_page_number(o) for o in reader.outline if not isinstance(o, list))
    last_pages = {s - 1 for s in starts} | {len(reader.pages) - 1}  # the last page of each part may be short
    fills = page_fill(pdf, tmp_path)
    short = [f"page {i + 1} ({fill:.0%})" for i, fill in enumerate(fills) if i not in last_pages and fill < 1 / 3]
    assert not short, "pages inachevées : " + ", ".join(short)


def test_absent_optional_section_leaves_no_bare_heading():
    soup = BeautifulSoup('<section><h2>Titre</h2><div><h3 id="a">Vide</h3></div><div><!-- rien --></div>'
                         '<h3 id="b">Pleine</h3><div><p>Texte</p></div><h3 id="c">Dernière</h3></section>',
                         "html.parser")
    _drop_empty_sections(soup)
    assert [h.get("id") for h in soup.find_all("h3")] == ["b"]
    assert soup.find("h2") is not None  # the section still holds « Pleine »


def test_omissions_go_to_the_sources_annex_not_the_chapter():
    ctx = SimpleNamespace(geo=None, geo_problems=[], cafdata=SimpleNamespace(family=None))
    omitted = annexes.omissions({"portrait": ctx})
    assert omitted == ["cartes", "configurations-familiales"]
    soup = BeautifulSoup(annexes.sources(annexes.MethodFacts(year=2023, omitted=omitted)), "html.parser")
    items = {dt.get_text(): dt.find_next_sibling("dd").get_text() for dt in soup.find_all("dt")}
    assert "les cartes sont omises" in items["Cartes"] and "Configurations familiales" in items
    broken = SimpleNamespace(geo=None, geo_problems=["x"], cafdata=SimpleNamespace(family=object()))
    assert annexes.omissions({"portrait": broken}) == []  # broken outlines: the build's own line says why
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    text = "".join(p.read_text(encoding="utf-8") for p in notebooks.glob("*.ipynb"))
    assert "ne figurent pas dans cette édition" not in text and "n’a pas été fourni" not in text
