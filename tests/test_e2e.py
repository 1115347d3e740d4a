"""End-to-end: build a whole year with the default (embedded) data and inspect the outputs."""
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from helpers import cli, config

pytestmark = pytest.mark.e2e
NNBSP = "\u202f"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("sortie") / "2023"
    code = cli.main(["-q", "build", "--year", "2023", "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def pdf_text(built):
    """Text of each page, laid out as on the page (pypdf's layout mode: a line of the contents keeps its title
    and its page number)."""
    return [page.extract_text(extraction_mode="layout") for page in PdfReader(built / "rapport-2023.pdf").pages]


def test_outputs_written(built):
    names = {p.name for p in built.iterdir()}
    assert {"rapport-2023.html", "rapport-2023.pdf", "rapport-2023-portrait.html", "rapport-2023-ctg.html",
            "rapport-2023-cooperation.html", "notebooks"} <= names
    assert sorted(p.name for p in (built / "notebooks").iterdir()) == [
        "01_portrait.ipynb", "02_ctg.ipynb", "03_cooperation.ipynb"]
    assert not list(built.parent.glob(".*partiel*"))


def test_pdf_is_a4_tagged_with_title_and_language(built):
    reader = PdfReader(built / "rapport-2023.pdf")
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    assert reader.metadata.title.startswith("Rapport d’activité 2023")
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "fr"
    assert root["/MarkInfo"]["/Marked"]
    assert "/StructTreeRoot" in root
    assert len(reader.outline) >= 3  # bookmarks per chapter


def test_pdf_contains_chapters_and_key_figures(built):
    # plain mode: the exact characters, the narrow no-break space included
    text = "\n".join(page.extract_text() for page in PdfReader(built / "rapport-2023.pdf").pages)
    for title in ("Qui sont nos allocataires ?", "les conventions territoriales globales", "La coopération territoriale"):
        assert title in text
    # real open data by default: the sum of the 462 communes, December 2023
    for figure in (f"122{NNBSP}955", f"271{NNBSP}945", f"49{NNBSP}%", "12 / 13", "48,6", f"1,1{NNBSP}M€", "71",
                   "96,7", "75,1", "66,2", "60,9"):
        assert figure in text, figure
    assert "31\u00a0décembre\u00a02023" in text
    assert "Données illustratives" in text


def test_pdf_has_contents_with_page_numbers_and_running_heads(pdf_text):
    toc = pdf_text[1]
    assert "Sommaire" in toc
    m = re.search(r"Qui sont nos allocataires\s\?\s*(\d+)", toc)  # \s: the no-break space before « ? »
    assert m, toc
    page = int(m.group(1))
    assert re.search(r"Qui sont nos allocataires\s\?", pdf_text[page - 1])
    n = len(pdf_text)
    assert f"page 3 / {n}" in pdf_text[2]
    assert "Rapport d’activité 2023 — Caf de la Charente-Maritime" in pdf_text[3]


def test_html_has_no_code_and_no_network(built):
    html = (built / "rapport-2023.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in html
    assert "<script" not in html
    assert "jp-InputArea" not in html and "highlight-ipynb" not in html and "In&nbsp;[" not in html
    assert "open_chapter" not in html and "import " not in html
    for m in re.finditer(r'(?:src|href)="([^"#][^"]*)"', html):
        if re.fullmatch(r"(provenance\.(html|json)|rapport-\d{4}(-[a-z]+)?\.html)(#[\w-]+)?", m.group(1)):
            assert (built / m.group(1).split("#")[0]).is_file(), m.group(1)  # a file published beside the report
            continue
        assert m.group(1).startswith(("data:", "https://data.caf.fr", "https://www.caf.fr")), m.group(1)
        assert not m.group(0).startswith("src=\"http")
    assert "@import" not in html and "url(http" not in html


def test_html_toc_links_every_chapter_and_section(built):
    html = (built / "rapport-2023.html").read_text(encoding="utf-8")
    nav = re.search(r'<nav[^>]*class="sommaire".*?</nav>', html, re.S).group(0)
    targets = re.findall(r'href="#([^"]+)"', nav)
    assert {"ch-portrait", "ch-ctg", "ch-cooperation"} <= set(targets)
    assert len(targets) > 10
    for t in targets:
        assert f'id="{t}"' in html, t


def test_figures_numbered_with_caption_source_alt(built):
    html = (built / "rapport-2023.html").read_text(encoding="utf-8")
    numbers = re.findall(r'<span class="numero">Figure (\d+)\u00a0:</span>', html)  # French no-break space
    assert numbers == [str(i) for i in range(1, len(numbers) + 1)] and len(numbers) >= 4
    assert html.count("<img ") == html.count('alt="') - html.count('alt=""')
    assert 'alt=""' not in html


def test_executed_notebooks_received_the_parameters(built):
    nb = nbformat.read(built / "notebooks" / "02_ctg.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "year = 2023" in injected[0].source
    # the kernel took the context checked by the build; its transient path is not published
    assert "prepared = None" in injected[0].source and "pickle" not in injected[0].source


def test_failing_chapter_publishes_nothing(built, tmp_path, monkeypatch, terminal):
    nbdir = tmp_path / "notebooks"
    shutil.copytree(config.NOTEBOOKS_DIR, nbdir)
    nb = nbformat.read(nbdir / "02_ctg.ipynb", as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell('raise ValueError("panne simulée")'))
    nbformat.write(nb, nbdir / "02_ctg.ipynb")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", nbdir)
    before = {p.name: p.stat().st_mtime_ns for p in built.iterdir()}
    code = cli.main(["-q", "build", "--year", "2023", "--out", str(built), "--formats", "html"])
    err = terminal.readouterr().err
    assert code == 1
    assert "« ctg »" in err and "cellule 5" in err and "ValueError : panne simulée" in err
    partial = re.search(r"Notebook partiel enregistré : (\S+)", err).group(1)
    assert Path(partial).is_file()
    assert {p.name: p.stat().st_mtime_ns for p in built.iterdir()} == before  # nothing overwritten
    shutil.rmtree(Path(partial).parents[1])


def test_notebooks_committed_without_outputs_and_with_python3_kernel():
    for nb_path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), nb_path
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
        assert not any(re.search(r"^\s*(def|class) ", c["source"] if isinstance(c["source"], str) else "".join(c["source"]), re.M)
                       for c in nb["cells"] if c["cell_type"] == "code"), nb_path


FOOTER = "Chapitre construit en partie sur des données illustratives"


def test_no_empty_page_and_illustrative_banner_only_where_illustrative_data_are(pdf_text):
    for i, page in enumerate(pdf_text, start=1):
        lines = [line for line in page.splitlines() if line.strip()]
        assert len(lines) >= 4, f"page {i} presque vide"
    ctg = next(i for i, p in enumerate(pdf_text) if "Des projets de territoire" in p and i > 2)
    first_annex = next(i for i, p in enumerate(pdf_text) if "Annexe 1 — Sources et méthode" in p and i > 2)
    for i, page in enumerate(pdf_text[2:ctg], start=3):  # the portrait: real open data
        assert FOOTER not in page, f"page {i} du portrait marquée illustrative"
    for i, page in enumerate(pdf_text[ctg:first_annex], start=ctg + 1):  # registers with illustrative rows
        assert FOOTER in page, f"page {i} sans mention des données illustratives"


def test_every_figure_table_and_key_figure_from_illustrative_data_carries_its_mark(built):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((built / "rapport-2023.html").read_text(encoding="utf-8"), "html.parser")
    marked = {el["id"] for el in soup.select("figure[data-kind]") if el.select_one(".marque-illustratif")}
    # the family extract and the registers are illustrative; the open data are not
    assert {"fig-familles", "tab-ctg-statut", "fig-ctg-frise", "tab-ctg-themes", "tab-coop-types",
            "tab-coop-epci", "tab-coop-reunions"} <= marked
    assert not marked & {"fig-evolution", "tab-evolution", "fig-af-cf", "tab-af-cf", "fig-prestations",
                         "tab-prestations", "tab-epci", "carte-epci", "carte-communes", "tab-petite-enfance",
                         "carte-petite-enfance"}
    # never a map or a ranking from illustrative rows
    assert soup.select_one("#carte-ctg") is None and soup.select_one("#fig-coop-epci") is None
    portrait = soup.select_one("#ch-portrait")
    keys = {k.select_one(".libelle").get_text(): bool(k.select_one(".marque-illustratif"))
            for k in portrait.select(".chiffre")}
    assert keys["des foyers allocataires sans enfant"] and not keys["foyers allocataires"]
    assert portrait.select_one(".avertissement.illustratif") is None  # no banner on the portrait
    for k in soup.select("#ch-cooperation .chiffre"):
        assert k.select_one(".marque-illustratif"), k.get_text()
        assert "en un an" not in k.get_text()  # no evolution from illustrative rows


def test_annex_2_separates_real_checks_from_figures_reproduced_by_construction(built):
    """Every published figure has its row and its cause; « reproduit par construction » only for the figures
    read from illustrative rows built to match, never for a real check."""
    from bs4 import BeautifulSoup

    html = (built / "rapport-2023.html").read_text(encoding="utf-8")
    annex = html.split('id="annexe-publies"', 1)[1].split('id="annexe-provenance"')[0]
    rows = {}
    for tr in BeautifulSoup(annex, "html.parser").select("table tbody tr"):
        cells = [c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
        rows.setdefault(cells[0], cells)
    for label in ("Foyers allocataires", "Personnes couvertes"):
        assert "reproduit par construction" not in rows[label][-1] and rows[label][-1], label
    for label in ("Part des allocataires sans enfant", "Professionnels de la coopération", "EPCI couverts par une CTG"):
        assert rows[label][-1].startswith("reproduit par construction"), label
    assert "un peu moins de la moitié des habitants" in annex  # the published wording this edition changes


def test_annexes_list_inputs_with_checksums_and_parameters(built):
    import hashlib

    html = (built / "rapport-2023.html").read_text(encoding="utf-8").replace("<wbr/>", "")  # checksum groups
    # the technical provenance is published beside the report (provenance.html), not in it
    detail = (built / "provenance.html").read_text(encoding="utf-8").replace("<wbr/>", "")
    real = config.DATA_DIR / "opendata" / "17" / "cafdata" / "s_ben_com_f_17.csv"
    # the report's sources annex is in the reader's words: checksums, re-publishers, formats are in provenance.html
    assert hashlib.sha256(real.read_bytes()).hexdigest() not in html
    assert hashlib.sha256(real.read_bytes()).hexdigest() in detail
    assert "Données ouvertes intégrées au projet" in detail and "Horackim/WCS_Projet3_partage" in detail
    for technical in ("Horackim", "SHA-256 :", "UTF-8 avec BOM", "unary_union", "commit"):
        assert technical not in html.split('id="annexe-sources"', 1)[1].split('id="annexe-publies"')[0], technical
    for key in ("year", "departement", "cafdata_dir", "registers_dir", "published"):
        assert f"<th scope=\"row\">{key}</th>" in detail, key
    assert 'href="provenance.html"' in html
    assert "Chiffres publiés et chiffres recalculés" in html


def test_report_opens_with_the_key_messages_and_ends_with_a_glossary(built, pdf_text):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((built / "rapport-2023.html").read_text(encoding="utf-8"), "html.parser")
    page = soup.select_one("main > section#essentiel")
    assert page is not None and page.find_previous_sibling() is None  # first of the report, after the contents
    items = page.select(".messages-cles li")
    assert 4 <= len(items) <= 6
    for li in items:
        assert li.select_one("a[href^='#']") is not None, li.get_text()  # a link to its figure or chapter
    assert "L’essentiel" in pdf_text[2] and "Qui sont nos allocataires" not in pdf_text[2]
    glossary = soup.select_one("#annexe-glossaire")
    terms = {dt.get_text() for dt in glossary.find_all("dt")}
    text = soup.select_one("main").get_text(" ")
    assert {"CTG", "EPCI", "Cnaf", "CF"} <= terms and all(t in text for t in terms)
    assert "RSA" not in terms or "RSA" in text
    first = next(i for i, p in enumerate(pdf_text) if "Annexe 1 — Sources et méthode" in p and i > 2)
    second = next(i for i, p in enumerate(pdf_text) if "Annexe 2 — Chiffres publiés" in p and i > first)
    assert second - first <= 2  # Annexe 1 holds on at most two pages
    assert "Publié le" in pdf_text[0]
