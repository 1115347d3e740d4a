"""No unfinished page: in the PDF, every page but the last of a chapter or annex is at least
half full; no page ends with a heading or with the text that introduces the figure or table at
the top of the next page; missing optional content leaves no bare heading and no apologetic
sentence."""
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
from helpers.report.assemble import _css, _drop_empty_sections

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


HEADINGS = {"h2", "h3", "h4", "h5", "h6"}


def _section_blocks(page) -> tuple[object, list]:
    """The chapter or annex that a laid-out page shows, and its blocks on that page (the boxes of the
    section's children: a text cell, a figure, a table...), in order."""
    stack = [page._page_box]
    while stack:
        box = stack.pop()
        if getattr(box, "element_tag", None) == "section":
            return box.element, [c for c in box.children if getattr(c, "element", None) is not None]
        stack.extend(reversed(getattr(box, "children", None) or []))
    return None, []


def _ends_with_heading(box) -> bool:
    """Whether the last block of `box`, followed down its last children, is a heading."""
    while box is not None:
        if getattr(box, "element_tag", None) in HEADINGS:
            return True
        blocks = [c for c in getattr(box, "children", None) or [] if getattr(c, "element_tag", None)]
        box = blocks[-1] if blocks and not type(blocks[-1]).__name__.startswith(("Line", "Text", "Inline")) else None
    return False


def bad_breaks(document) -> list[str]:
    """Page breaks a reader stops at, in a WeasyPrint document laid out from the report's HTML: a page
    that ends with a heading, or whose last block is the text just before a figure or table that
    starts the next page (the figure's introduction left alone)."""
    pages = [_section_blocks(p) for p in document.pages]
    out = []
    for i, ((section, blocks), (next_section, next_blocks)) in enumerate(zip(pages, pages[1:])):
        if not blocks:
            continue
        last = blocks[-1]
        if _ends_with_heading(last):
            out.append(f"page {i + 1} : se termine par un titre")
        if next_section is section and next_blocks:
            first = next_blocks[0].element
            if first.tag == "figure" and last.element.tag != "figure" and first is not last.element:
                out.append(f"page {i + 1} : le texte qui annonce « {first.get('id')} » reste seul en bas de page")
    return out


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> Path:
    return full_build(tmp_path_factory) / "rapport-2023.pdf"


def _layout(html_text: str, base_url: Path | None = None):
    from weasyprint import HTML

    return HTML(string=html_text, base_url=str(base_url) if base_url else None).render()


def _small_chapter(blocks: str, style: str) -> str:
    return (f'<html lang="fr"><head><style>{style}</style></head><body><main><section class="chapitre">'
            f'<h2>Chapitre</h2>{blocks}</section></main></body></html>')


def test_the_break_check_sees_a_heading_or_an_introduction_left_alone():
    """The check itself, on small chapters laid out with the report's stylesheet: a paragraph that
    falls at the bottom of a page with its figure on the next is reported without the stylesheet's
    rule and kept with its figure with it; a heading forced to the end of a page is reported."""
    text = '<div class="texte"><p>' + "Texte d’un paragraphe qui occupe plusieurs lignes de la page. " * 6 + "</p></div>"
    figure = ('<figure class="figure" id="fig-x"><div style="height: 14cm; background: #ccc"></div>'
              "<figcaption>Figure</figcaption></figure>")
    css = _css()
    rule = "section > :not(figure):has(+ figure)"
    assert rule in css, "la règle qui garde l’introduction avec sa figure a disparu de rapport.css"
    alone = _small_chapter(text * 6 + figure, css.replace(rule, "section > .aucun"))  # the introduction ends page 1
    assert bad_breaks(_layout(alone)) == ["page 1 : le texte qui annonce « fig-x » reste seul en bas de page"]
    assert bad_breaks(_layout(_small_chapter(text * 6 + figure, css))) == []
    heading = _small_chapter(text + '<div class="texte" style="break-after: page"><h3>Titre</h3></div>' + text, css)
    assert bad_breaks(_layout(heading)) == ["page 1 : se termine par un titre"]


@pytest.mark.e2e
def test_no_page_ends_with_a_heading_or_a_figure_s_introduction(pdf):
    """The published HTML laid out as the PDF is (same HTML, same stylesheet, same page count)."""
    document = _layout(pdf.with_suffix(".html").read_text(encoding="utf-8"), pdf.parent)
    assert len(document.pages) == len(PdfReader(pdf).pages)
    assert bad_breaks(document) == []


@pytest.mark.e2e  # a full build
def test_no_page_is_left_less_than_half_full(pdf, tmp_path):
    reader = PdfReader(pdf)
    starts = sorted(reader.get_destination_page_number(o) for o in reader.outline if not isinstance(o, list))
    last_pages = {s - 1 for s in starts} | {len(reader.pages) - 1}  # the last page of each part may be short
    fills = page_fill(pdf, tmp_path)
    # 2023: the least filled such page is 58 % full (page 12, a table that the next one cannot join)
    short = [f"page {i + 1} ({fill:.0%})" for i, fill in enumerate(fills) if i not in last_pages and fill < 1 / 2]
    assert not short, "pages inachevées : " + ", ".join(short)


def test_absent_optional_section_leaves_no_bare_heading():
    soup = BeautifulSoup('<section><h2>Titre</h2><div><h3 id="a">Vide</h3></div><div><!-- rien --></div>'
                         '<h3 id="b">Pleine</h3><div><p>Texte</p></div><h3 id="c">Dernière</h3></section>',
                         "html.parser")
    _drop_empty_sections(soup)
    assert [h.get("id") for h in soup.find_all("h3")] == ["b"]
    assert soup.find("h2") is not None  # the section still holds « Pleine »


def test_omissions_go_to_the_sources_annex_not_the_chapter():
    ctx = SimpleNamespace(geo=None, cafdata=SimpleNamespace(family=None))
    omitted = annexes.omissions({"portrait": ctx})
    assert omitted == ["cartes", "configurations-familiales"]
    soup = BeautifulSoup(annexes.sources(annexes.MethodFacts(year=2023, omitted=omitted)), "html.parser")
    items = {dt.get_text(): dt.find_next_sibling("dd").get_text() for dt in soup.find_all("dt")}
    assert "les cartes sont omises" in items["Cartes"] and "Configurations familiales" in items
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    text = "".join(p.read_text(encoding="utf-8") for p in notebooks.glob("*.ipynb"))
    assert "ne figurent pas dans cette édition" not in text and "n’a pas été fourni" not in text
