"""Territorial portraits: the same notebook for every EPCI (a `territoire` parameter), real figures summed
from the commune file, an index and a combined PDF; a failing EPCI is listed, not fatal."""
import csv
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from helpers import cli
from helpers.territoires import Result, _index

ROOT = Path(__file__).resolve().parents[1]
RE = "241700459"  # CC de l'Île de Ré
NNBSP = "\u202f"


def _hand_sums(siren: str, month: str = "2023-12") -> tuple[int, int]:
    """Foyers and personnes of the EPCI's communes, summed by hand from the two CSV files."""
    with open(ROOT / "data" / "reference" / "communes.csv", encoding="utf-8") as f:
        members = {r["code_commune"] for r in csv.DictReader(f, delimiter=";")
                   if r["annee_vigueur"] == "2024" and r["siren_epci"] == siren}
    foyers = personnes = 0
    with open(ROOT / "data" / "opendata" / "17" / "cafdata" / "s_ben_com_f_17.csv", encoding="utf-8-sig") as f:
        for r in csv.DictReader(f, delimiter=";"):
            if r["dtreffre"] == month and r["numcomdo"] in members:
                foyers += int(float(r["indfoy_ndur"]))
                personnes += int(float(r["indnbp_ndur"]))
    return foyers, personnes


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("territoires") / "2023"
    assert cli.main(["-q", "territoires", "--year", "2023", "--epci", f"{RE},200041499", "--out", str(out)]) == 0
    return out


@pytest.mark.e2e
def test_ile_de_re_portrait_shows_its_real_figures(built):
    foyers, personnes = _hand_sums(RE)
    assert (foyers, personnes) == (2110, 5000)
    html = (built / f"{RE}-cc-de-lile-de-re.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    keys = [k.get_text(" ", strip=True) for k in soup.select(".chiffre")]
    assert any(k.startswith(f"2{NNBSP}110 foyers allocataires") for k in keys)
    assert any(k.startswith(f"5{NNBSP}000 personnes couvertes") for k in keys)
    assert any(k.startswith("96,7 places") for k in keys)
    assert "13\u1d49 des 13 EPCI" in html and "arrondi à 5" in html
    assert len(soup.select("#tab-territoire-communes tbody tr")) == 10
    assert soup.select_one("#carte-territoire-communes img") is not None
    # the posts come from illustrative register rows: marked
    assert soup.select_one("#tab-territoire-postes .marque-illustratif") is not None
    assert 3 <= len(PdfReader(built / f"{RE}-cc-de-lile-de-re.pdf").pages) <= 5


@pytest.mark.e2e
def test_index_and_combined_pdf(built):
    index = BeautifulSoup((built / "index.html").read_text(encoding="utf-8"), "html.parser")
    links = {a["href"] for a in index.select("a")}
    assert {f"{RE}-cc-de-lile-de-re.html", f"{RE}-cc-de-lile-de-re.pdf", "portraits-2023.pdf"} <= links
    assert "29" in index.get_text() and "Échec" not in index.get_text()
    pages = PdfReader(built / "portraits-2023.pdf").pages
    text = pages[0].extract_text()
    assert "Sommaire" in text and "CC Aunis Atlantique" in text and "page 1" not in text
    # every portrait page is numbered in the combined document, as its contents number it
    for i, page in enumerate(pages[1:], start=2):
        assert re.search(rf"\bpage {i}\b", page.extract_text()), f"page {i} du PDF combiné mal numérotée"


def test_a_failed_portrait_is_listed_in_the_index():
    page = _index([Result("241700459", "CC de l’Île de Ré", "x", "5 000", "29 %"),
                   Result("200041499", "CC <b>Aunis</b>", erreur="fichier x : ligne 3 : date invalide")], 2023, "Caf")
    assert "Échec\u00a0: fichier x\u00a0: ligne 3\u00a0: date invalide" in page
    assert "portrait n’a pas pu être construit" in page and "&lt;b&gt;Aunis" in page and "<b>" not in page


def test_unknown_epci_refused_before_anything(capsys, tmp_path):
    assert cli.main(["-q", "territoires", "--year", "2023", "--epci", "123456789", "--out", str(tmp_path / "t")]) == 2
    assert "SIREN inconnu pour le département 17" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
