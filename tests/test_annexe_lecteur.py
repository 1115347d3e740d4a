"""Board-ready annexes: Annexe 1 in the reader's words (no file, checksum or format), the glossary
of the acronyms the edition uses, only those."""
from __future__ import annotations

from bs4 import BeautifulSoup

from helpers.report import annexes

FACTS = annexes.MethodFacts(
    year=2023, portrait=True, unlocated=12, caf_name="Caf de la Charente-Maritime",
    cafdata=[{"name": "s_ben_com_f", "file": "s_ben_com_f_17.csv", "first": "2020-12", "last": "2023-12",
              "duplicates": 2, "technical": [{"month": "2021-12", "code": "17300", "value": 5, "kept": 285}]}],
    populations={"year": 2023, "census": 2020, "total": 655709, "source": "DGCL, epcicom2023.xlsx"},
    series={"datasets": ["af_s_majo_dep", "cf_s_majo_dep"], "region": "Nouvelle-Aquitaine", "departements": 100,
            "dropped": 3},
    registers="data/registers/17", childcare_year=2023)


def test_sources_annex_names_data_producer_period_and_what_was_done_without_technical_detail():
    soup = BeautifulSoup(annexes.sources_reader(FACTS), "html.parser")
    rows = {tr.th.get_text(" ", strip=True): [td.get_text(" ", strip=True) for td in tr.find_all("td")]
            for tr in soup.select("tbody tr")}
    commune = rows["Allocataires et prestations, par commune"]
    assert commune[0].startswith("Cnaf") and commune[1] == "décembre\u00a02020 à décembre\u00a02023"
    assert "arrondis à 5" in commune[2] and "(12 foyers en décembre 2023)" in commune[2]
    assert "Nouvelle-Aquitaine" in rows["Allocations familiales et complément familial, tous les départements"][2]
    assert rows["Populations légales des communes et des EPCI"][1] == "en vigueur en 2023 (recensement 2020)"
    assert "Caf de la Charente-Maritime" in next(v[0] for k, v in rows.items() if k.startswith("Conventions"))
    text = soup.get_text(" ")
    for technical in ("s_ben_com_f", ".csv", "epcicom", "af_s_majo_dep", "data/registers", "SHA", "BOM", "17300"):
        assert technical not in text, technical
    # three coverages, three names
    terms = [dt.get_text() for dt in soup.find_all("dt")]
    assert {"Part des habitants couverts par la Caf", "Couverture par une CTG",
            "Taux de couverture petite enfance"} <= set(terms)
    assert soup.select_one('a[href="provenance.html#sources-detail"]') is not None


def test_glossary_lists_only_the_acronyms_the_text_uses_as_whole_words():
    table = {"AF": "allocations familiales", "CF": "complément familial", "CTG": "convention territoriale globale",
             "Caf": "caisse d’allocations familiales"}
    texts = ["<p>Les AF et la CTG.</p>", "<p>CAFÉ, cf. AFFICHE, <code>x</code></p><style>.CF{}</style>"]
    assert annexes.used_acronyms(texts, table) == [("AF", "allocations familiales"),
                                                    ("CTG", "convention territoriale globale")]
    assert annexes.used_acronyms(["<p>Rien.</p>"], table) == []
    assert annexes.glossary(["<p>Rien ici.</p>"]) == ""
    soup = BeautifulSoup(annexes.glossary(["<p>La Cnaf publie les données des EPCI ; la Paje.</p>"]), "html.parser")
    assert [dt.get_text() for dt in soup.find_all("dt")] == ["Cnaf", "EPCI", "Paje"]


def test_every_acronym_of_the_table_has_a_french_definition():
    table = annexes.acronyms()
    assert {"AF", "CF", "CTG", "EPCI", "CEJ", "Paje", "AAH", "EAJE", "ETP", "DGCL", "Cnaf"} <= set(table)
    assert all(isinstance(v, str) and len(v) > 5 for v in table.values())
