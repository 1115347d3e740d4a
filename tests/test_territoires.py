"""Territorial portraits: the same notebook for every EPCI (a `territoire` parameter), real figures summed
from the commune file, an index and a combined PDF; a failing EPCI is listed, not fatal."""
import csv
import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from helpers import cli
from helpers.territoires import Result, _index, _navigation, cle_francaise, rapport_departement

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
    assert "13\u1d49 sur 13\u00a0EPCI" in html or "13\u1d49 sur 13 EPCI" in html and "arrondi à 5" in html
    assert len(soup.select("#tab-territoire-communes tbody tr")) == 11  # 10 communes and the EPCI's total
    total = [td.get_text(strip=True) for td in soup.select("#tab-territoire-communes tbody tr")[-1].select("th, td")]
    assert total[0].startswith("Ensemble de l’EPCI") and total[2] == f"2{NNBSP}110" and total[3] == f"5{NNBSP}000"
    assert soup.select_one("#carte-territoire-communes img") is not None
    # the posts come from illustrative register rows: marked
    assert soup.select_one("#tab-territoire-postes .marque-illustratif") is not None
    own = PdfReader(built / f"{RE}-cc-de-lile-de-re.pdf")
    assert 3 <= len(own.pages) <= 5
    # laid out once without its numbers, then numbered: « page k / n », still a tagged PDF
    for i, page in enumerate(own.pages, start=1):
        assert re.search(rf"\bpage {i} / {len(own.pages)}\b", page.extract_text()), f"page {i} mal numérotée"
    assert "/StructTreeRoot" in own.trailer["/Root"] and own.trailer["/Root"]["/Lang"] == "fr"


@pytest.mark.e2e
def test_index_and_combined_pdf(built):
    index = BeautifulSoup((built / "index.html").read_text(encoding="utf-8"), "html.parser")
    links = {a["href"] for a in index.select("a")}
    assert {f"{RE}-cc-de-lile-de-re.html", f"{RE}-cc-de-lile-de-re.pdf", "portraits-2023.pdf"} <= links
    assert "29" in index.get_text() and "Échec" not in index.get_text()
    pages = PdfReader(built / "portraits-2023.pdf").pages
    assert not any("page" in pages[i].extract_text().split() for i in range(2))  # cover, contents and method note
    text = pages[1].extract_text()
    assert "Sommaire" in text and "CC Aunis Atlantique" in text and "Note de méthode" in text
    # every portrait page is numbered in the combined document, as its contents number it, and bookmarked
    assert {"CC Aunis Atlantique", "CC de l’Île de Ré"} <= {o.title for o in PdfReader(built / "portraits-2023.pdf").outline}
    for i, page in enumerate(pages[2:], start=3):
        assert re.search(rf"\bpage {i}\b", page.extract_text()), f"page {i} du PDF combiné mal numérotée"


def test_a_failed_portrait_is_listed_in_the_index():
    page = _index([Result("241700459", "CC de l’Île de Ré", "x", "5 000", "29 %"),
                   Result("200041499", "CC <b>Aunis</b>", erreur="fichier x : ligne 3 : date invalide")], 2023, "Caf")
    assert "Échec\u00a0: fichier x\u00a0: ligne 3\u00a0: date invalide" in page
    assert "portrait n’a pas pu être construit" in page and "&lt;b&gt;Aunis" in page and "<b>" not in page


def test_unknown_epci_refused_before_anything(terminal, tmp_path):
    assert cli.main(["-q", "territoires", "--year", "2023", "--epci", "123456789", "--out", str(tmp_path / "t")]) == 2
    assert "SIREN inconnu pour le département 17" in terminal.readouterr().err
    assert not (tmp_path / "t").exists()


@pytest.mark.e2e
def test_every_link_of_the_folder_resolves(built):
    """Every href and src of every HTML file of the portraits' folder: a file that exists, an anchor to an id of
    the page it points to; each portrait leads back to the index and to its neighbours."""
    pages = sorted(built.glob("*.html"))
    assert len(pages) == 3
    for page in pages:
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag in soup.find_all(href=True) + soup.find_all(src=True):
            link = tag.get("href") or tag.get("src")
            if link.startswith("data:"):
                continue
            assert not re.match(r"^[a-z]+:", link), f"{page.name} : lien externe {link}"
            target, _, anchor = link.partition("#")
            path = (page.parent / target) if target else page
            assert path.is_file(), f"{page.name} : lien mort {link}"
            if anchor and path.suffix == ".html":
                ids = {t["id"] for t in BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
                       .find_all(id=True)}
                assert anchor in ids, f"{page.name} : ancre absente {link}"
        if page.name != "index.html":
            hrefs = {a["href"] for a in soup.select("nav a")}
            assert "index.html" in hrefs and len(hrefs) == 2  # the index and the other portrait


@pytest.mark.e2e
def test_portrait_beside_departement_region_and_france(built):
    soup = BeautifulSoup((built / f"{RE}-cc-de-lile-de-re.html").read_text(encoding="utf-8"), "html.parser")
    table = soup.select_one("#tab-territoire-comparaisons")
    heads = [th.get_text(strip=True) for th in table.select("thead th")]
    assert heads[1:] == ["CC de l’Île de Ré", "Charente-Maritime", "Nouvelle-Aquitaine", "France"]
    rows = {tr.select_one("th").get_text(strip=True).replace("\u00a0", " "): [td.get_text(strip=True) for td in tr.select("td")]
            for tr in table.select("tbody tr")}
    af = rows["Allocations familiales : évolution en un an des foyers bénéficiaires"]
    assert all(x != "–" for x in af)  # the AF in every territory
    assert rows["Places d’accueil pour 100 enfants de moins de 3 ans (2023)"] == ["96,7", "75,1", "66,2", "60,9"]
    text = soup.get_text(" ", strip=True)
    assert "est inférieure de 12\u00a0points à celle du département" in text or \
        "est inférieure de 12 points à celle du département" in text
    assert "supérieure de 35,8 places pour 100 enfants à celle de la France (60,9)" in text
    assert "moyenne" not in text
    # commune names on the map (all ten communes of Ré), posts named by what they are
    alt = soup.select_one("#carte-territoire-communes img")["alt"]
    assert "communes nommées\u00a0: " in alt and "Saint-Martin-de-Ré" in alt
    posts = [tr.select_one("th").get_text(strip=True) for tr in soup.select("#tab-territoire-postes tbody tr")]
    assert posts and all("CC de l’Île de Ré" in p and "ETP" in p for p in posts)
    assert not re.search(r"\bP[0-9]{3}\b", text)


@pytest.mark.e2e
def test_index_in_french_order_with_departement_row(built):
    index = BeautifulSoup((built / "index.html").read_text(encoding="utf-8"), "html.parser")
    names = [tr.select_one("th").get_text(strip=True) for tr in index.select("tbody tr")]
    assert names == ["CC Aunis Atlantique", "CC de l’Île de Ré", "Charente-Maritime"]
    text = index.get_text(" ", strip=True)
    assert "Taux de couverture" in text and "population municipale" in text and "illustratif" in text


@pytest.mark.e2e
def test_combined_pdf_cover_contents_method_and_no_page_of_footer_only(built):
    pages = PdfReader(built / "portraits-2023.pdf").pages
    assert "Portraits des EPCI 2023" in pages[0].extract_text() and "Publié le" in pages[0].extract_text()
    assert "Sommaire" in pages[1].extract_text() and "Note de méthode" in pages[1].extract_text()
    assert re.search(r"Note de méthode\s*2\b", pages[1].extract_text())
    assert re.search(r"CC Aunis Atlantique\s*3\b", pages[1].extract_text())
    for f in [built / "portraits-2023.pdf", *built.glob("2*.pdf")]:
        for i, page in enumerate(PdfReader(f).pages, start=1):
            if f.name.startswith("portraits") and i == 1:
                continue  # the cover
            words = page.extract_text().split()
            assert len(words) > 25, f"{f.name}, page {i} : presque vide ({' '.join(words)})"


def test_french_order_of_epci_names():
    names = ["CC de la Pieve de l’Ornano et du Taravo", "CA Royan Atlantique", "CA de La Rochelle", "CC de l’Île de Ré", "CC Aunis Sud", "CC de l'Île d'Oléron",
             "CA Rochefort Océan", "CC Vals de Saintonge Communauté", "Métropole Aix-Marseille-Provence",
             "CC Haute Saintonge", "CA Saintes"]
    assert sorted(names, key=cle_francaise) == [
        "Métropole Aix-Marseille-Provence", "CC Aunis Sud", "CC Haute Saintonge", "CC de l'Île d'Oléron",
        "CC de l’Île de Ré", "CA de La Rochelle", "CC de la Pieve de l’Ornano et du Taravo", "CA Rochefort Océan",
        "CA Royan Atlantique", "CA Saintes",
        "CC Vals de Saintonge Communauté"]


def test_link_to_the_departement_report_only_when_it_exists(tmp_path):
    out = tmp_path / "outputs" / "territoires" / "2023"
    out.mkdir(parents=True)
    assert rapport_departement(out, 2023, "17") is None
    report = tmp_path / "outputs" / "2023"
    report.mkdir()
    (report / "rapport-2023.html").write_text("<html></html>", encoding="utf-8")
    (report / "provenance.json").write_text(json.dumps({"parametres": [{"cle": "departement", "valeur": "2A"}]}),
                                            encoding="utf-8")
    assert rapport_departement(out, 2023, "17") is None  # another département's report
    assert rapport_departement(out, 2023, "2A") == "../../2023/rapport-2023.html"
    page = ('<nav class="chapitres"><ul><li><a href="rapport-2023.html">Rapport complet</a></li></ul></nav>'
            '<main></main><nav class="suite"><a href="rapport-2023.html#annexe-sources">Suite</a></nav>')
    results = [Result("1", "CC A", "1-a"), Result("2", "CC B", erreur="x"), Result("3", "CC C", "3-c")]
    soup = BeautifulSoup(_navigation(page, results, 0, "../../2023/rapport-2023.html"), "html.parser")
    assert [a["href"] for a in soup.select("a")] == ["index.html", "../../2023/rapport-2023.html", "3-c.html"]
    soup = BeautifulSoup(_navigation(page, results, 2, None), "html.parser")
    assert [a["href"] for a in soup.select("a")] == ["index.html", "1-a.html"]  # the failed portrait skipped


def test_several_departements_link_to_their_report_from_dep_and_national_folders(tmp_path):
    """outputs/territoires/DÉP/ANNÉE finds the département's report of a batch (outputs/DÉP/ANNÉE) as well."""
    from helpers.territoires import Bilan, _publish_national
    out = tmp_path / "outputs" / "territoires" / "2A" / "2023"
    out.mkdir(parents=True)
    report = tmp_path / "outputs" / "2A" / "2023"
    report.mkdir(parents=True)
    (report / "rapport-2023.html").write_text("<html></html>", encoding="utf-8")
    (report / "provenance.json").write_text(json.dumps({"parametres": [{"cle": "departement", "valeur": "2A"}]}),
                                            encoding="utf-8")
    link = rapport_departement(out, 2023, "2A")
    assert link == "../../../2A/2023/rapport-2023.html" and (out / link).is_file()
    national = tmp_path / "outputs" / "territoires" / "france" / "2023"
    bilans = [Bilan("2A", "Corse-du-Sud", portraits=7, personnes="55 005", part_habitants_couverts="33 %", rapport=link),
              Bilan("976", erreur="Département 976 (Mayotte) : aucun rapport de Caf ne peut être construit."),
              Bilan("17", "Charente-Maritime", portraits=13, echecs=1, personnes="271 945", part_habitants_couverts="41 %")]
    assert _publish_national(national, bilans, 2023) is True
    assert _publish_national(national, bilans, 2023) is False  # unchanged: nothing written
    soup = BeautifulSoup((national / "index.html").read_text(encoding="utf-8"), "html.parser")
    rows = [[td.get_text(" ", strip=True) for td in tr.find_all(["th", "td"])] for tr in soup.select("tbody tr")]
    assert [r[1] for r in rows] == ["17", "2A", "976"]  # codes in order, 2A after 19 and before 21
    assert rows[2][2].startswith("Échec") and "Mayotte" in rows[2][2]
    assert "1 en échec" in rows[0][2] and rows[1][5] == "Rapport"
    hrefs = [a["href"] for a in soup.select("tbody a")]
    assert hrefs == ["../../17/2023/index.html", "../../2A/2023/index.html", "../../../2A/2023/rapport-2023.html"]
    assert (national / hrefs[2]).is_file()


@pytest.mark.e2e
def test_territoires_of_several_departements_go_past_a_refused_one(tmp_path, terminal):
    """17 and 976 (no Caf): the 17's portraits and the national index are published, Mayotte's row says why,
    and the command exits with 1; every link of the national index resolves."""
    base = tmp_path / "territoires"
    assert cli.main(["-q", "territoires", "--year", "2023", "--departement", "17,976", "--epci", RE,
                     "--out", str(base)]) == 1
    assert "Mayotte" in terminal.readouterr().out
    index = base / "france" / "2023" / "index.html"
    soup = BeautifulSoup(index.read_text(encoding="utf-8"), "html.parser")
    assert "CSSM" in soup.get_text() and "1 portrait" in soup.get_text()
    for a in soup.select("main a"):
        assert (index.parent / a["href"]).is_file(), a["href"]
    assert (base / "17" / "2023" / "index.html").is_file() and not (base / "976").exists()


def test_epci_unknown_in_every_departement_refused(terminal, tmp_path):
    assert cli.main(["-q", "territoires", "--year", "2023", "--departement", "17,2A", "--epci", "123456789",
                     "--out", str(tmp_path / "t")]) == 2
    assert "SIREN inconnu pour les départements 17, 2A" in terminal.readouterr().err
    assert not (tmp_path / "t").exists()


def test_the_rate_beside_the_persons_covered_rests_on_the_same_rows(tmp_path):
    """An EPCI file rounded on its own (here 3 000 more persons for the Île de Ré than its communes' sum) never
    gives the portrait a rate that the persons and inhabitants printed beside it contradict."""
    import shutil

    from helpers import fmt
    from helpers.chapters import context, territoire

    for f in (ROOT / "data" / "demo").glob("s_ben_*"):
        shutil.copy(f, tmp_path)
    epci = tmp_path / "s_ben_epci_f_17.csv"
    rows = [line.split(";") for line in epci.read_text(encoding="utf-8-sig").splitlines()]
    for r in rows:
        if r[0] == "2023-12" and r[1] == RE:
            r[4] = str(int(r[4]) + 3000)
    epci.write_text("\ufeff" + "\n".join(";".join(r) for r in rows) + "\n", encoding="utf-8")
    ctx = context.open_chapter("territoire", 2023, "17", None, {"territoire": RE, "cafdata_dir": str(tmp_path)}, None)
    v, t = territoire.valeurs(ctx), territoire.totaux(ctx)
    population = float(v["population"].replace("\u202f", "").replace(" ", ""))
    assert ctx.cafdata.epci is not None and v["personnes"] == fmt.nombre(t.personnes)
    assert v["part_habitants_couverts"] == fmt.pourcent(t.personnes / population)
