"""French checked by code: every text node of every HTML output has the typography of the PDF
(no-break space before « : ; ! ? », inside « », between a number and its unit), and so have the
attributes read in place of an element (alt text, aria-label); the wording of lists and counts
reads as French."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Comment
from reader_build import full_build

from helpers.chapters.ctg import enumeration
from helpers.report.annexes import as_published
from helpers.report.assemble import typographie

BAD = re.compile(r"[ \t\n][:;!?»]|«[ \t\n]|\d[ \t\n\u00a0](?:%|€|k€|M€)")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return full_build(tmp_path_factory)


def _faults(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    out = []
    for node in soup.find_all(string=True):
        if isinstance(node, Comment) or any(p.name in ("style", "script", "code", "pre") for p in node.parents):
            continue
        for m in BAD.finditer(str(node)):
            out.append(repr(str(node)[max(0, m.start() - 30):m.end() + 10]))
    for attribute in ("alt", "aria-label"):  # read aloud, or shown when the image is not
        for tag in soup.find_all(attrs={attribute: True}):
            for m in BAD.finditer(tag[attribute]):
                out.append(f"{attribute}={tag[attribute][max(0, m.start() - 30):m.end() + 10]!r}")
    return out


@pytest.mark.e2e  # a full build
def test_every_text_node_and_alt_text_has_french_spaces(built):
    pages = sorted(built.glob("*.html"))
    assert len(pages) >= 5  # the report, three chapters, provenance
    for page in pages:
        faults = _faults(page.read_text(encoding="utf-8"))
        assert not faults, f"{page.name} : espace ordinaire là où le français veut une espace insécable : {faults[:5]}"


def test_typography_pass():
    soup = BeautifulSoup("<p>Note : voir « ici » ; 96 % et 3 €<code>a :b</code></p>", "html.parser")
    typographie(soup)
    assert soup.p.get_text() == "Note\u00a0: voir «\u00a0ici\u00a0»\u00a0; 96\u202f% et 3\u202f€a :b"


def test_typography_pass_covers_alt_text_and_aria_label():
    soup = BeautifulSoup('<figure aria-label="Carte : taux ; 12 %"><img alt="Courbes : 96 % et « x » !"/>'
                         '<div title="a : b" aria-label="Tableau"></div></figure>', "html.parser")
    typographie(soup)
    assert soup.img["alt"] == "Courbes\u00a0: 96\u202f% et «\u00a0x\u00a0»\u00a0!"
    assert soup.figure["aria-label"] == "Carte\u00a0: taux\u00a0; 12\u202f%"
    assert soup.div["title"] == "a : b" and soup.div["aria-label"] == "Tableau"  # other attributes are left alone
    assert _faults(str(soup)) == []
    assert _faults('<img alt="a : b"/>') == ["alt='a : b'"]


def test_lists_of_epci_carry_their_articles():
    assert enumeration(["CC Aunis Sud"]) == "la CC Aunis Sud"
    assert enumeration(["CC A", "CA B", "CC C"]) == "la CC A, la CA B et la CC C"
    assert enumeration(["CC A", "CA B"], de=True) == "de la CC A et de la CA B"


@pytest.mark.e2e  # a full build
def test_deployment_sentence_has_one_colon_and_an_and(built):
    html = (built / "rapport-2023-ctg.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    sentence = next(p.get_text() for p in soup.select(".texte p") if "CTG ont été signées" in p.get_text()
                    or "CTG a été signée" in p.get_text() or "Aucune CTG" in p.get_text())
    first = sentence.split(". ")[0]
    assert first.count(":") <= 1 and " et la " in sentence and "avec la " in sentence


def test_annex_shows_published_figures_as_published():
    assert as_published(0.96, "part") == "96\u202f%"
    assert as_published(1_100_000, "euros") == "environ 1,1\u00a0million d’euros"
    assert as_published(48.6, "etp") == "48,6" and as_published(121067, "nombre") == "121\u202f067"

# « Aucune rencontre du réseau n’a été organisée » when the register is empty: tests/test_bad_inputs.py
