"""The report's HTML lives in Jinja templates (src/helpers/report/templates/rapport/), not in Python
strings; one environment with autoescape on; one table macro for every table the project writes."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from bs4 import BeautifulSoup
from markupsafe import Markup

from helpers import config
from helpers.report import annexes, templating
from helpers.report.templating import table

REPORT = Path(__file__).resolve().parents[1] / "src" / "helpers" / "report"
TEMPLATES = config.TEMPLATES_DIR / "rapport"
HOSTILE = '<script>alert(1)</script> & "Cie" <b>x</b>'


def test_the_templates_folder_holds_every_page_and_the_table_macro():
    names = {p.name for p in TEMPLATES.glob("*.html.j2")}
    for name in ("base.html.j2", "rapport.html.j2", "chapitre.html.j2", "couverture.html.j2", "sommaire.html.j2",
                 "page-autonome.html.j2", "macros.html.j2", "methode.html.j2"):
        assert name in names, name
    assert "{% macro data_table(" in (TEMPLATES / "macros.html.j2").read_text(encoding="utf-8")
    # no other template writes a table of its own: they all call the macro
    for path in TEMPLATES.glob("*.html.j2"):
        if path.name != "macros.html.j2":
            assert "<table" not in path.read_text(encoding="utf-8"), path.name


def _strings(path: Path) -> list[str]:
    """Every string literal of a module, f-strings included (their literal parts)."""
    return [node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_no_page_markup_is_built_in_python():
    markup = re.compile(r"<\s*(table|html|head|nav|body|thead|tbody|tr|td|th|caption|figure|dl|dt|dd)\b", re.I)
    for path in [REPORT / n for n in ("assemble.py", "annexes.py", "page.py")] + [REPORT.parents[0] / "territoires.py"]:
        name = path.name
        found = [s for s in _strings(path) if markup.search(s)]
        assert not found, f"{name} : balisage HTML écrit en Python : {found[:3]}"
    # the method of Annexe 1: build.py computes facts; every sentence and tag is in methode.html.j2
    build = [s for s in _strings(REPORT.parents[0] / "build.py") if re.search(r"<[a-z]+[ />]", s)]
    assert not build, build[:3]


def test_one_environment_with_autoescape():
    env = templating.environment()
    assert env is templating.environment() and env.autoescape is True
    assert templating.render("couverture.html.j2", meta=_Meta(), chapters=[{"title": HOSTILE}]).count("<script>") == 0


class _Meta:
    year, caf_name, report_title, date_obs, illustrative = 2023, HOSTILE, "Titre", "31 décembre 2023", True
    published = "7 décembre 2026"


def test_template_line_breaks_join_tags_and_keep_spaces_between_words():
    assert templating._join_lines("<p>\n  <a>x</a>\n</p>") == "<p><a>x</a></p>"
    assert templating._join_lines("<p>des\n  <strong>mots</strong>\n  suivants</p>") \
        == "<p>des <strong>mots</strong> suivants</p>"
    assert templating._join_lines("{% if a %}\n  <p>\n{% endif %}\n") == "{% if a %}<p>{% endif %}"


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_table_macro_escapes_every_value():
    html = table([HOSTILE, "Nombre"], [[HOSTILE, "1"], ["b", Markup("<em>2</em>")]], HOSTILE, numeric=[1], scroll=True)
    soup = _soup(html)
    assert not soup.find_all(["script", "b"])
    assert soup.caption.get_text() == HOSTILE and soup.thead.th.get_text() == HOSTILE
    assert soup.tbody.th.get_text() == HOSTILE
    assert soup.select_one("div.defilement")["aria-label"] == HOSTILE
    assert soup.find("em").get_text() == "2"  # markup built by the code (Markup) is kept


def test_table_macro_numeric_columns_row_headers_and_total():
    rows = [["CA A", "1\u202f000", "x"], ["CC B", "500", "y"], ["Total", "1\u202f500", ""]]
    soup = _soup(table(["EPCI", "Foyers", "Note"], rows, "Essai", numeric=[1], total=True))
    assert [th.get("class") for th in soup.thead.find_all("th")] == [None, ["num"], None]
    assert all(th["scope"] == "col" for th in soup.thead.find_all("th"))
    body = soup.tbody.find_all("tr")
    assert [tr.get("class") for tr in body] == [None, None, ["total"]]
    assert [tr.th["scope"] for tr in body] == ["row"] * 3 and [tr.th.get_text() for tr in body] == ["CA A", "CC B", "Total"]
    assert [td.get("class") for td in body[0].find_all("td")] == [["num"], None]
    # without row headers, every cell is a td
    soup = _soup(table(["a", "b"], [["1", "2"]], "Essai", row_header=False))
    assert soup.tbody.find("th") is None and len(soup.tbody.find_all("td")) == 2


def test_table_macro_chapter_form():
    soup = _soup(table(["EPCI", "Foyers"], [["CA A", "1"]], "Foyers par EPCI", ident="tab-essai",
                       mark=Markup('<span class="marque-illustratif">Données illustratives</span>'),
                       source="Source : Cnaf.", note="Une note.", summary="Un résumé.", numeric=[1], empty_class=True))
    figure = soup.select_one("figure.tableau#tab-essai[data-kind=tableau]")
    assert figure is not None and soup.select_one("div.defilement") is None
    assert soup.table["aria-describedby"] == "tab-essai-resume"
    assert soup.select_one("caption .numero").get_text() == "Tableau"
    assert soup.select_one("caption .titre").get_text() == "Foyers par EPCI"
    assert soup.select_one("caption .marque-illustratif") is not None
    assert [p["class"] for p in figure.find_all("p")] == [["source"], ["note"], ["resume"]]
    assert soup.select_one("p.resume")["id"] == "tab-essai-resume"
    assert soup.tbody.th["class"] == [] and soup.tbody.td["class"] == ["num"]  # class="" as the chapters wrote it


def test_table_macro_breaks_checksums_and_addresses():
    sha = "0123456789abcdef" * 4
    html = table(["Fichier", "SHA-256"], [["data/a_b.csv", sha]], "Fichiers", classes={0: "adresse", 1: "somme"})
    soup = _soup(html)
    assert soup.tbody.th["class"] == ["adresse"] and soup.tbody.td["class"] == ["somme"]
    assert html.count("<wbr/>") == 3 + 3  # after / and _ and . ; between the four groups of 16
    assert soup.tbody.td.get_text() == sha


def test_method_sentences_come_from_the_template():
    facts = annexes.MethodFacts(
        year=2023, portrait=True, unlocated=12, omitted=["cartes"],
        cafdata=[{"name": "s_ben_dep", "file": HOSTILE, "first": "2020-12", "last": "2023-12", "duplicates": 2,
                  "technical": [{"month": "2021-12", "code": "974", "value": 31, "kept": 285387}] * 7}],
        populations={"year": 2023, "census": 2020, "total": 664000, "source": "DGCL"})
    soup = _soup(annexes.sources(facts))
    items = {dt.get_text(): dt.find_next_sibling("dd").get_text() for dt in soup.find_all("dt")}
    dep = items["Cafdata s_ben_dep"]
    assert dep.startswith("département, mensuel, effectifs exacts ; de décembre\u00a02020 à décembre\u00a02023 ; "
                          f"fichier {HOSTILE} ; 2 lignes en double à l’identique écartées ; 7 lignes techniques")
    assert "gardée : décembre\u00a02021 (code 974) : 31 à côté de 285\u202f387, décembre" in dep
    assert dep.endswith(", et 2 autres).")
    assert not soup.find_all(["script", "b"])
    assert items["Arrondis et secret statistique"].endswith("(12 foyers en décembre 2023 dans le fichier lu).")
    assert "1er janvier N+1" in items["Géographie"] and soup.find("sup").get_text() == "er"
    assert items["Populations"] == ("Population municipale des EPCI en vigueur en 2023 (recensement 2020), "
                                    "664\u202f000 habitants ; source : DGCL.")
    assert "les cartes sont omises" in items["Cartes"] and "Définitions" in items


def test_cover_shows_the_publication_date():
    html = templating.render("couverture.html.j2", meta=_Meta(), chapters=[])
    assert "Publié le 7 décembre 2026" in html
