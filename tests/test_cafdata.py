from pathlib import Path

import pandas as pd
import pytest
from conftest import write

from helpers.data.cafdata import communes_year, load_cafdata, non_localised, read_export, totals
from helpers.data.reference import load_reference
from helpers.errors import DataError
from helpers.indicators import portrait as ind

ROOT = Path(__file__).resolve().parents[1]
HEADER = "dtreffre;numcomdo;nomcom;indfoy_ndur;indnbp_ndur;indfoy_rsa"


@pytest.fixture(scope="module")
def ref():
    return load_reference(ROOT / "data" / "reference", "17")


def test_floats_text_bom_and_blank_secret(tmp_path):
    p = write(tmp_path / "s_ben_com_f.csv",
              f"{HEADER}\n2023-12;17300;La Rochelle;37795.0;\"68 110\";\n2023-12;17306;Royan;5 000;9000;1200\n", bom=True)
    d = read_export(p, "s_ben_com_f", "17")
    f = d.frame.set_index("code")
    assert f.loc["17300", "indfoy_ndur"] == 37795
    assert f.loc["17300", "indnbp_ndur"] == 68110
    assert pd.isna(f.loc["17300", "indfoy_rsa"])  # blank = secret, not zero
    assert f.loc["17306", "indfoy_ndur"] == 5000


def test_without_bom_and_any_subset_of_measures(tmp_path):
    p = write(tmp_path / "s_ben_com_f.csv", "dtreffre;numcomdo;indnbp_ndur\n2023-12;17300;68110\n")
    d = read_export(p, "s_ben_com_f", "17")
    assert d.measures == ["indnbp_ndur"]


def test_non_localised_rows_are_national_not_in_the_departement_totals(tmp_path, ref):
    write(tmp_path / "s_ben_com_f_17.csv",
          f"{HEADER}\n2023-12;17300;La Rochelle;100;200;10\n2023-12;;;15;30;5\n2023-12;17306;Royan;50;90;5\n")
    data = load_cafdata(tmp_path, "17")
    t = totals(data, 2023)
    assert (t.foyers, t.personnes, t.rounded, t.source) == (150, 290, True, "s_ben_com_f")
    assert t.n_rows == 2 and t.rounding_bound == 5
    assert non_localised(data, 2023) == 15
    assert set(communes_year(data, ref, 2023).code) == {"17300", "17306"}


def test_duplicated_technical_rows_dropped_conflicts_refused(tmp_path):
    row = "2023-12;17300;La Rochelle;100;200;10"
    p = write(tmp_path / "s_ben_com_f.csv", f"{HEADER}\n{row}\n{row}\n2023-12;17306;Royan;50;90;5\n")
    d = read_export(p, "s_ben_com_f", "17")
    assert len(d.frame) == 2 and d.duplicates_dropped == 1
    # a small technical row beside the real one: the real row is kept, the other counted
    write(p, f"{HEADER}\n2023-12;17300;La Rochelle;5;5;\n{row}\n")
    d = read_export(p, "s_ben_com_f", "17")
    assert d.frame.indfoy_ndur.tolist() == [100] and d.rows_dropped == 1
    assert (d.technical[0].line, d.technical[0].value, d.technical[0].kept) == (2, 5, 100)
    # two large rows that disagree are refused, naming both lines
    write(p, f"{HEADER}\n{row}\n2023-12;17300;La Rochelle;105;200;10\n")
    with pytest.raises(DataError) as e:
        read_export(p, "s_ben_com_f", "17")
    assert "lignes 2 et 3" in str(e.value) and "17300" in str(e.value) and "ligne 2, colonne « numcomdo »" in str(e.value)


REUNION = ("\ufeffdtreffre;numdep;nomdep;indfoy_ndur;indnbp_ndur\n"
           "2020-12;974;LA REUNION;31;62\n2020-12;974;LA REUNION;285387;702112\n"
           "2021-12;974;LA REUNION;284993;700004\n2021-12;974;LA REUNION;30;61\n"
           "2022-12;974;LA REUNION;1;1\n2022-12;974;LA REUNION;283105;695150\n")


def test_la_reunion_pattern_technical_december_rows_kept_apart(tmp_path):
    """A real s_ben_dep export (La Réunion) carries each December twice: 31, 30 or 1 foyers
    beside the real row. The real row is kept and the technical ones counted."""
    p = tmp_path / "s_ben_dep_974.csv"
    p.write_text(REUNION, encoding="utf-8")
    d = read_export(p, "s_ben_dep", "974")
    f = d.frame.set_index("dtreffre")
    assert f.indfoy_ndur.to_dict() == {"2020-12": 285387, "2021-12": 284993, "2022-12": 283105}
    assert [(t.month, t.value) for t in d.technical] == [("2020-12", 31), ("2021-12", 30), ("2022-12", 1)]


@pytest.mark.parametrize("body, expected", [
    ("2023-12;17300;La Rochelle;-121067;200;10\n", "ligne 2, colonne « indfoy_ndur » : un nombre positif ou nul"),
    ("2023-12;17300;La Rochelle;100;200;10\n2023-12;17306;Royan;50\n", "ligne 3 : 4 champs au lieu de 6"),
    ("1000-12;17300;La Rochelle;100;200;10\n", "ligne 2, colonne « dtreffre » : année hors de la période"),
    ("", "ne contient que l’en-tête"),
])
def test_strict_reading_refuses_false_figures(tmp_path, body, expected):
    p = write(tmp_path / "s_ben_com_f.csv", f"{HEADER}\n{body}")
    with pytest.raises(DataError) as e:
        read_export(p, "s_ben_com_f", "17")
    assert expected in str(e.value)


def test_repeated_column_not_csv_and_other_encoding_refused(tmp_path):
    p = write(tmp_path / "s_ben_com_f.csv", "dtreffre;numcomdo;indfoy_ndur;indfoy_ndur\n2023-12;17300;1;2\n")
    with pytest.raises(DataError) as e:
        read_export(p, "s_ben_com_f", "17")
    assert "ligne 1, colonne « indfoy_ndur » : colonne présente deux fois" in str(e.value)
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(DataError) as e:
        read_export(p, "s_ben_com_f", "17")
    assert "classeur Excel" in str(e.value)
    p.write_bytes(f"{HEADER}\n2023-12;17300;La Rochelle;1;2;3\n2023-12;17306;Marennes-Hiers-Brouage;1;2;3\n"
                  .replace("Marennes", "Mar\u00e9nnes").encode("latin-1"))
    with pytest.raises(DataError) as e:
        read_export(p, "s_ben_com_f", "17")
    assert "ligne 3 : le fichier n’est pas en UTF-8" in str(e.value)


def test_two_exports_of_one_dataset_refused(tmp_path):
    write(tmp_path / "s_ben_com_f_17.csv", f"{HEADER}\n2023-12;17300;La Rochelle;1;2;3\n")
    write(tmp_path / "s_ben_com_f_17 (1).csv", f"{HEADER}\n2023-12;17300;La Rochelle;1;2;3\n")
    with pytest.raises(DataError) as e:
        load_cafdata(tmp_path, "17")
    assert "plusieurs fichiers pour le jeu s_ben_com_f" in str(e.value) and "(1).csv" in str(e.value)


def test_merged_communes_folded_on_january_next_year_geography(tmp_path, ref):
    # 17334 merged into 17268 on 1 January 2025: December 2024 is on the 2025 geography, December 2023 is not.
    write(tmp_path / "s_ben_com_f_17.csv",
          f"{HEADER}\n2023-12;17334;Saint-Georges;20;40;5\n2023-12;17268;Rives;30;60;5\n"
          f"2024-12;17334;Saint-Georges;20;40;5\n2024-12;17268;Rives;30;60;5\n2024-12;17169;Frédière;5;10;0\n")
    data = load_cafdata(tmp_path, "17")
    c23 = communes_year(data, ref, 2023).set_index("code")
    assert c23.loc["17334", "indfoy_ndur"] == 20 and c23.loc["17268", "indfoy_ndur"] == 30
    c24 = communes_year(data, ref, 2024).set_index("code")
    assert "17334" not in c24.index and c24.loc["17268", "indfoy_ndur"] == 50
    assert "17169" not in c24.index and c24.loc["17344", "indfoy_ndur"] == 5  # 2019 merge


def test_bad_cells_name_file_row_column(tmp_path):
    p = write(tmp_path / "s_ben_com_f.csv", f"{HEADER}\n2023-12;17300;La Rochelle;100;deux cents;10\n2023-13;17306;Royan;1;2;3\n")
    with pytest.raises(DataError) as e:
        read_export(p, "s_ben_com_f", "17")
    text = str(e.value)
    assert "ligne 2, colonne « indnbp_ndur » : un nombre positif ou nul est attendu (valeur « deux cents »)" in text
    assert "ligne 3, colonne « dtreffre »" in text


def test_missing_column_and_not_an_export(tmp_path):
    p = write(tmp_path / "s_ben_com_f.csv", "numcomdo;indfoy_ndur\n17300;5\n")
    with pytest.raises(DataError) as e:
        read_export(p, "s_ben_com_f", "17")
    assert "colonne « dtreffre » : colonne obligatoire absente" in str(e.value)
    p = write(tmp_path / "s_ben_com_f.csv", "dtreffre,numcomdo,indfoy_ndur\n2023-12,17300,5\n")
    with pytest.raises(DataError):
        read_export(p, "s_ben_com_f", "17")


def test_exact_departement_file_preferred(tmp_path):
    write(tmp_path / "s_ben_dep.csv", "dtreffre;numdep;nomdep;indfoy_ndur;indnbp_ndur\n2023-12;17;CM;121067;271931\n"
                                      "2023-12;33;Gironde;1;2\n")
    write(tmp_path / "s_ben_com_f.csv", f"{HEADER}\n2023-12;17300;La Rochelle;100;200;10\n")
    t = totals(load_cafdata(tmp_path, "17"), 2023)
    assert (t.foyers, t.personnes, t.rounded) == (121067, 271931, False)


def test_family_configuration_share_without_children(tmp_path):
    write(tmp_path / "s_ben_dep.csv", "dtreffre;numdep;indfoy_ndur;indnbp_ndur\n2023-12;17;100;250\n")
    write(tmp_path / "configuration_familiale_17.csv",
          "dtreffre;numdep;configuration;nb_enfants;foyers\n2023-12;17;isolé;0;40\n2023-12;17;couple;0;9\n"
          "2023-12;17;couple;2;31\n2023-12;17;monoparent;1;20\n")
    data = load_cafdata(tmp_path, "17")
    assert ind.share_without_children(data, 2023) == pytest.approx(0.49)
    write(tmp_path / "configuration_familiale_17.csv",
          "dtreffre;numdep;configuration;nb_enfants;foyers\n2023-12;17;monoparent;0;40\n")
    with pytest.raises(DataError) as e:
        load_cafdata(tmp_path, "17")
    assert "ligne 2, colonne « nb_enfants »" in str(e.value)


def test_real_official_layout(real_cafdata, ref):
    """The real figures of the 462 communes of Charente-Maritime, in the official export layout."""
    data = load_cafdata(real_cafdata, "17")
    assert data.years() == [2020, 2021, 2022, 2023, 2024]
    t = totals(data, 2023)
    assert (t.foyers, t.personnes, t.rounded) == (122955, 271945, True)
    assert (totals(data, 2021).personnes, totals(data, 2024).personnes) == (275040, 270590)
    assert len(communes_year(data, ref, 2024)) == 462
    epci = ind.coverage_by_epci(data, ref, 2023)
    assert len(epci) == 13 and epci.indnbp_ndur.sum() == 271945


def test_demo_data_match_published_2023(ref):
    data = load_cafdata(ROOT / "data" / "demo", "17")
    assert data.illustrative
    t = totals(data, 2023)
    assert (t.foyers, t.personnes, t.rounded) == (121067, 271931, False)
    assert round(ind.share_without_children(data, 2023), 2) == 0.49


def test_demo_generator_is_reproducible(tmp_path):
    from helpers.data.demo import generate

    for p in generate(tmp_path, ROOT / "data" / "reference"):
        assert p.read_bytes() == (ROOT / "data" / "demo" / p.name).read_bytes(), p.name
