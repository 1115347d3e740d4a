"""Values from parameters and data are text in every output: markup in a Caf name, a report title, a
register row or an EPCI name is shown as written, never interpreted (HTML pages, chapter pages, cover,
annexes, charts, PDF)."""
import re
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from helpers import cli
from helpers.report.page import ref, render_text

ROOT = Path(__file__).resolve().parents[1]

CAF = "<script>alert(1)</script><b>X</b> [lien](javascript:alert(1)) **gras**"
TITLE = 'Titre <img src=x onerror="alert(2)"> <i>Y</i> & Cie'
MEETING = "<u>Rencontre</u><script>alert(3)</script> *penchée*"
# `$\nope$` would stop matplotlib's mathtext (unknown symbol) if a chart label were parsed as math.
EPCI_OLD, EPCI = "CA Royan Atlantique", "CA Royan Atlantique <em>Z</em> **gras2** $\\nope$"
INJECTED_TEXT = {"gras", "penchée", "Z", "gras2", "Y", "X", "Rencontre"}


def test_values_are_text_but_the_template_is_markdown():
    html = render_text("**{n}** foyers ; la {caf}{renvoi}", {"n": "12", "caf": CAF, "renvoi": ref("tab-x", "tableau")})
    assert "<strong>12</strong>" in html  # the template's own Markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;X&lt;/b&gt; [lien](javascript:alert(1)) **gras**" in html
    assert '<a class="xref" href="#tab-x"' in html  # markup built by the code (Html) is kept
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all(["script", "b"]) and soup.find_all("a") == soup.select("a.xref")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("echappement")
    reg = tmp / "registres"
    shutil.copytree(ROOT / "data" / "registers", reg)
    meetings = reg / "17" / "reunions_reseau.csv"
    text = meetings.read_text(encoding="utf-8")
    old = "Référentiel emploi : évaluation et pilotage des CTG;illustratif ("
    assert old in text
    meetings.write_text(text.replace(old, f"{MEETING};illustratif <i>source</i> ("), encoding="utf-8")
    refdir = tmp / "reference"
    shutil.copytree(ROOT / "data" / "reference", refdir)
    epci = refdir / "epci.csv"
    epci.write_text(epci.read_text(encoding="utf-8").replace(f";{EPCI_OLD};", f";{EPCI};"), encoding="utf-8")
    out = tmp / "2023"
    code = cli.main(["-q", "build", "--year", "2023", "--set", f"caf_name={CAF}", "--set", f"report_title={TITLE}",
                     "--set", f"registers_dir={reg}", "--set", f"reference_dir={refdir}", "--out", str(out)])
    assert code == 0
    return out


PAGES = ["rapport-2023.html", "rapport-2023-portrait.html", "rapport-2023-ctg.html", "rapport-2023-cooperation.html"]


@pytest.mark.e2e
@pytest.mark.parametrize("name", PAGES)
def test_no_injected_element_in_html(built, name):
    raw = (built / name).read_text(encoding="utf-8")
    soup = BeautifulSoup(raw, "html.parser")
    assert not soup.find_all(["script", "b", "u"]), name
    assert not soup.select("[onerror]") and not soup.select('a[href^="javascript"]')
    assert not [e for e in soup.find_all(["strong", "em", "i"]) if e.get_text(strip=True) in INJECTED_TEXT]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    text = soup.get_text()
    assert CAF in text and CAF in soup.title.get_text()


@pytest.mark.e2e
def test_every_value_is_shown_as_written(built):
    full = BeautifulSoup((built / "rapport-2023.html").read_text(encoding="utf-8"), "html.parser")
    cover = full.select_one("header.couverture").get_text()
    assert CAF in cover and TITLE in cover
    for ident in ("ch-portrait", "annexe-provenance"):
        assert CAF in full.find(id=ident).get_text(), ident
    assert MEETING in full.find(id="tab-coop-reunions").get_text()
    assert EPCI in full.find(id="ch-ctg").get_text()  # in a sentence (Markdown) and in the tables
    assert EPCI in " ".join(p.get_text() for p in full.select("#ch-ctg .texte"))
    # the cooperation figure (a ranking) is left out while the register is illustrative: the table holds the name;
    # the chart labels (CTG timeline) are drawn as text, or the build would have stopped on `$\\nope$`
    assert EPCI in full.find(id="tab-coop-epci").get_text()
    assert full.select_one("#fig-ctg-frise img") is not None
    pages = BeautifulSoup((built / "rapport-2023-cooperation.html").read_text(encoding="utf-8"), "html.parser")
    assert MEETING in pages.get_text()


@pytest.mark.e2e
def test_pdf_shows_the_markup_as_text(built):
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(built / "rapport-2023.pdf").pages))
    assert "<script>alert(1)</script><b>X</b>" in text
    assert "<u>Rencontre</u><script>alert(3)</script>" in text
    assert "<em>Z</em>" in text
