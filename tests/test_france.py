"""Every Caf of France: national reference tables, the nine départements shipped, and the traps of
French geography (text codes, arrondissements, EPCI across départements, Métropole de Lyon, communes
nouvelles, Mayotte), each a test."""
import csv

import pytest
from conftest import write

from helpers import cli, config
from helpers.chapters import portrait
from helpers.chapters.context import Context, load_for, registre_a_remplir
from helpers.data.cafdata import (
    RE_ARRONDISSEMENT,
    commune_of_arrondissement,
    communes_year,
    load_cafdata,
    read_export,
    totals,
)
from helpers.data.geo import load_geo
from helpers.data.reference import EPCI_TYPES, load_reference, national_tables
from helpers.data.series import national_childcare
from helpers.indicators import portrait as ind
from helpers.params import caf_name_for, resolve

REF = config.DATA_DIR / "reference"
OPENDATA = config.DATA_DIR / "opendata"
NINE = ["13", "2A", "75", "92", "93", "94", "971", "973", "974"]
HEADER = "dtreffre;numcomdo;nomcom;indfoy_ndur;indnbp_ndur"


def test_national_tables_hold_every_commune_and_epci_with_text_codes():
    epci, com = national_tables(REF / "france", "2A")
    assert com.code_commune.map(type).eq(str).all() and com.code_commune.str.startswith("2A").all()
    assert len(com) == 124 and "2A004" in set(com.code_commune)  # Ajaccio, never 2004.0
    rows = list(csv.DictReader(open(REF / "france" / "communes_2025.csv", encoding="utf-8"), delimiter=";"))
    # the 34 969 communes of the COG 2025, less the 94 of the collectivités d’outre-mer (975, 977, 978, 98x)
    assert len(rows) == 34875 and len({r["code_commune"] for r in rows}) == len(rows)
    deps = {r["departement"] for r in rows}
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= deps and "977" not in deps
    allepci = list(csv.DictReader(open(REF / "france" / "epci_2025.csv", encoding="utf-8"), delimiter=";"))
    assert len(allepci) == 1255
    assert {r["type"] for r in allepci} == {"CA", "CC", "CU", "ME", "ML"}


@pytest.mark.parametrize("dep,name", [("2A", "Caf de la Corse-du-Sud"), ("972", "Caf de la Martinique"),
                                      ("69", "Caf du Rhône"), ("13", "Caf des Bouches-du-Rhône"),
                                      ("75", "Caf de Paris"), ("974", "Caf de La Réunion"), ("01", "Caf de l’Ain")])
def test_caf_names_with_their_articles(dep, name):
    assert caf_name_for(dep, REF) == name


def test_the_17_keeps_its_yearly_tables():
    ref = load_reference(REF, "17")
    assert not ref.national
    assert ref.epci_year(2023)[1] == 2023 and int(ref.epci_year(2023)[0].population_municipale.sum()) == 655709
    assert ref.spanning(2023).empty


@pytest.mark.parametrize("dep", NINE)
def test_nine_departements_ship_real_files_whose_codes_match_the_reference(dep):
    ref = load_reference(REF, dep)
    assert ref.national and ref.known
    caf = load_cafdata(OPENDATA / dep / "cafdata", dep)
    assert caf.years() == [2020, 2021, 2022, 2023, 2024]
    codes = set(communes_year(caf, ref, 2023).code)
    assert all(isinstance(c, str) and c.startswith(dep) for c in codes)
    assert codes <= set(ref.communes.code_commune)
    geo = load_geo(OPENDATA / dep / "geo", dep)
    assert geo.validate() == []
    assert set(geo.communes(2024).code) == set(ref.communes.code_commune)
    cov = ind.coverage_by_epci(caf, ref, 2023)
    assert not cov.empty and cov.part_habitants_couverts.notna().all()
    assert cov.indfoy_ndur.sum() == totals(caf, 2023).foyers  # every commune in one EPCI, once


def test_overseas_three_character_codes_stay_text(tmp_path):
    p = write(tmp_path / "s_ben_com_f_971.csv", f"{HEADER}\n2023-12;97101;Les Abymes;100;200\n"
              "2023-12;97120;Pointe-Noire;10;25\n2023-12;97411;Saint-Denis;999;999\n", bom=True)
    f = read_export(p, "s_ben_com_f", "971").frame
    assert list(f.code) == ["97101", "97120"]  # La Réunion's row is not Guadeloupe's


def test_arrondissements_are_summed_into_their_commune_once(tmp_path):
    p = write(tmp_path / "s_ben_com_f_75.csv", f"{HEADER}\n2023-12;75101;Paris 1er;100;150\n"
              "2023-12;75120;Paris 20e;300;700\n2022-12;75056;Paris;390;820\n2022-12;75101;Paris 1er;90;120\n")
    d = read_export(p, "s_ben_com_f", "75")
    f = d.frame.set_index(["dtreffre", "code"])
    assert len(f) == 2  # Paris once a month
    assert f.loc[("2023-12", "75056"), "indfoy_ndur"] == 400  # 75101 + 75120
    assert f.loc[("2022-12", "75056"), "indfoy_ndur"] == 390  # the commune row already is their sum: not 480


def test_arrondissement_codes_are_those_of_the_cog():
    rows = list(csv.DictReader(open(REF / "france" / "arrondissements_2025.csv", encoding="utf-8"), delimiter=";"))
    assert len(rows) == 45
    assert all(commune_of_arrondissement(r["code_arrondissement"]) == r["code_commune"] for r in rows)
    assert not RE_ARRONDISSEMENT.match("75056") and commune_of_arrondissement("13055") is None


def _ctx(dep: str, chapter: str = "portrait", **overrides) -> Context:
    r = resolve(2023, dep, overrides=overrides)
    return load_for(chapter, r.params, r)


def test_epci_across_departements_is_restricted_to_its_communes_here_with_a_note():
    ref = load_reference(REF, "13")
    epci, _ = ref.epci_year(2023)
    amp = epci.set_index("siren").loc["200054807"]
    mine = ref.communes[ref.communes.siren_epci == "200054807"]
    assert amp.population_municipale == mine.population_municipale.sum() < amp.population_epci
    assert (amp.nb_communes, amp.nb_communes_epci) == (90, 92)
    notes = _ctx("13").notes_hors_departement()
    assert notes == ["Métropole d’Aix-Marseille-Provence s’étend aussi sur le Var (83) et le Vaucluse (84) : seules "
                     "ses 90 communes du département, sur 92, sont comptées ici, avec leur population municipale "
                     "(1\u202f896\u202f985 habitants sur 1\u202f922\u202f626)."]
    paris = _ctx("75")
    assert paris.notes_hors_departement("200054781")[0].startswith(
        "Métropole du Grand Paris s’étend aussi sur l’Essonne (91), les Hauts-de-Seine (92), la Seine-Saint-Denis "
        "(93), le Val-de-Marne (94) et le Val-d’Oise (95) : seule sa commune du département, sur 130, est comptée ici")
    assert notes[0] in portrait.note_epci(_ctx("13"))


def test_portrait_of_an_epci_across_departements_says_what_it_counts():
    """The Métropole du Grand Paris seen from Paris: one commune here (« la seule commune », never « les 1
    communes »), the note of its part, and its childcare rate said to be the whole EPCI's."""
    from helpers.chapters import territoire
    mgp = _ctx("75", "territoire", territoire="200054781")
    assert not territoire.entier(mgp)
    assert territoire.valeurs(mgp)["phrase_communes"] == "dans la seule commune de l’EPCI située dans le département"
    notes = territoire.notes(mgp)
    assert notes[0].startswith("Métropole du Grand Paris s’étend aussi sur") and "**" not in "".join(notes)
    assert "EPCI entier" in notes[-1] and "EPCI entier" in territoire.chiffres_cles(mgp)[-1][2]
    re_ = _ctx("17", "territoire", territoire="241700459")
    assert territoire.entier(re_) and territoire.notes(re_) == []
    assert territoire.valeurs(re_)["phrase_communes"] == "dans les 10 communes de l’EPCI"
    assert territoire._phrase_communes(1, True) == "dans l’unique commune de l’EPCI"


def test_metropole_de_lyon_and_other_special_types():
    epci, _ = national_tables(REF / "france", "69")
    lyon = epci.set_index("siren").loc["200046977"]
    assert (lyon.nom, lyon.type) == ("Métropole de Lyon", "ML")
    assert "statut particulier" in EPCI_TYPES["ML"]
    gp, _ = national_tables(REF / "france", "75")
    assert gp.type.tolist() == ["ME"] and gp.nom.tolist() == ["Métropole du Grand Paris"]


def test_communes_nouvelles_december_data_on_the_reference_geography(tmp_path):
    # A genuine December 2023 export is on the geography of 1 January 2024: Pierrefitte-sur-Seine (93059)
    # still apart. The 93's reference is the 2025 geography (merged into Saint-Denis 93066): folded there.
    p = write(tmp_path / "s_ben_com_f_93.csv", f"{HEADER}\n2023-12;93059;Pierrefitte-sur-Seine;100;250\n"
              "2023-12;93066;Saint-Denis;1000;2500\n", bom=True)
    caf = load_cafdata(p.parent, "93")
    ref = load_reference(REF, "93")
    assert communes_year(caf, ref, 2023).set_index("code").indfoy_ndur.to_dict() == {"93066": 1100}
    cov = ind.coverage_by_epci(caf, ref, 2023)
    assert cov.indfoy_ndur.sum() == 1100
    # the 2018 outlines were merged to the same geography: one outline for Saint-Denis, none for 93059
    codes = set(load_geo(OPENDATA / "93" / "geo", "93").communes(2024).code)
    assert "93066" in codes and "93059" not in codes
    # the 17 keeps its yearly geographies: December 2023 on 1 January 2024, before its 2025 merge
    p17 = write(tmp_path / "17" / "s_ben_com_f_17.csv", f"{HEADER}\n2023-12;17334;Saint-Georges;10;20\n"
                "2023-12;17268;Rives-de-Boutonne;30;60\n", bom=True)
    c17 = communes_year(load_cafdata(p17.parent, "17"), load_reference(REF, "17"), 2023)
    assert sorted(c17.code) == ["17268", "17334"]


def test_mayotte_is_refused_before_any_kernel(monkeypatch, terminal, tmp_path):
    import helpers.build as build

    monkeypatch.setattr(build, "execute", lambda *a, **k: (_ for _ in ()).throw(AssertionError("noyau démarré")))
    assert cli.main(["build", "--year", "2023", "--departement", "976", "--out", str(tmp_path / "o")]) == 1
    err = terminal.readouterr().err
    assert "Mayotte n’a pas de Caf" in err and "CSSM" in err and "aucune ligne pour le 976" in err
    assert not (tmp_path / "o").exists()


def test_population_vintage_is_said_when_the_years_is_not_shipped():
    v = portrait.valeurs(_ctx("2A"))
    assert "population municipale en vigueur en 2025, la plus récente des données de référence du projet pour ce " \
           "département : celle en vigueur en 2023 n’y figure pas" in v["phrase_couverture"]
    assert "la plus récente" not in portrait.valeurs(_ctx("17"))["phrase_couverture"]


def test_missing_registers_and_extract_are_named_and_check_tells_the_same(terminal):
    ctx = _ctx("2A", "ctg")
    assert not ctx.registres_disponibles()
    line = registre_a_remplir(ctx.p, "ctg")
    assert line == ("Registre des conventions territoriales globales à remplir par la Caf de la Corse-du-Sud pour "
                    "que ce chapitre présente ses chiffres : « data/registers/2A/ctg.csv » (mêmes colonnes que les "
                    "registres de data/registers/17/).")
    assert "postes_cooperation.csv" in registre_a_remplir(ctx.p, "cooperation")
    assert cli.main(["check", "--year", "2023", "--departement", "2A"]) == 0  # a remark, not a failure
    out = terminal.readouterr().out
    assert f"Remarque : {line}" in out and "data/registers/2A/reunions_reseau.csv" in out
    p = _ctx("2A")
    assert "data/extraits/2A/configuration_familiale_2A.csv" in portrait.extrait_absent(p)
    assert portrait.portrait_social(p) is None  # no register of events for the 2A: never the 17's page
    url, text = portrait.portrait_social(_ctx("17"))[2]
    assert url.endswith("caf-de-la-charente-maritime") and text.endswith("édition 2024")


def test_childcare_of_a_departement_from_the_national_table():
    ref = load_reference(REF, "2A")
    c = national_childcare(REF, "2A", ref)
    assert c.year == 2023 and c.value("departement", "2A") is not None
    assert c.level("region").code.tolist() == ["94"]  # Corse only
    assert set(c.level("epci").code) == ref.sirens()
    assert set(c.level("departement").code) == {"2A", "2B"}
    assert c.value("france", "FR") == pytest.approx(60.9)
    assert _ctx("2A", "ctg").childcare is not None


def test_all_means_the_ten_departements_shipped():
    from helpers.batch import departements

    assert set(NINE + ["17"]) <= set(departements("all"))


@pytest.mark.e2e
def test_paris_builds_its_own_report(tmp_path):
    """Paris: one commune, one EPCI across five départements; nothing of the 17."""
    out = tmp_path / "75"
    assert cli.main(["-q", "build", "--year", "2023", "--departement", "75", "--out", str(out), "--formats", "html"]) == 0
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    main = html.split("<main", 1)[1]
    assert "Caf de Paris" in html and "Charente-Maritime" not in main and "caf-de-la-charente-maritime" not in html
    assert "434\u202f440" in main  # December 2023, Paris once
    assert "seule sa commune du département, sur 130, est comptée ici" in main
    assert "Ensemble des 1 EPCI" not in main
    assert main.count("à remplir par la Caf de Paris") == 4  # in each chapter, and in the method annex
