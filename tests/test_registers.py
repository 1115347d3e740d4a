import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers.data.reference import load_reference
from helpers.data.registers import load_registers
from helpers.errors import DataError
from helpers.indicators import cooperation as ind_coop
from helpers.indicators import ctg as ind

ROOT = Path(__file__).resolve().parents[1]
REG = ROOT / "data" / "registers" / "17"


@pytest.fixture(scope="module")
def ref():
    return load_reference(ROOT / "data" / "reference", "17")


@pytest.fixture
def regdir(tmp_path):
    d = tmp_path / "17"
    shutil.copytree(REG, d)
    return d


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_default_registers_give_the_published_2023_counts(ref):
    reg = load_registers(REG, ref.sirens())
    c = ind.ctg_year(reg, ref, 2023)
    assert (len(c.covered), c.n_epci) == (12, 13)
    assert len(c.signed) == 5 and len(c.new) == 5
    assert round(c.part_habitants_ctg, 3) == 0.950  # computed, not forced to the published 96 %
    k = ind_coop.coop_year(reg, ref, 2023)
    assert k.professionals == 71
    assert round(k.fte, 1) == 48.6
    assert 1_050_000 <= k.caf_funding <= 1_149_999  # "environ 1,1 million d'euros"
    assert len(k.meetings) == 3 and k.meetings_with_managers_and_elected == 2


def test_other_years_compute_their_own(ref):
    reg = load_registers(REG, ref.sirens())
    assert len(ind.ctg_year(reg, ref, 2022).covered) == 7
    assert len(ind.ctg_year(reg, ref, 2024).covered) == 13
    assert ind_coop.coop_year(reg, ref, 2022).professionals < 71 < ind_coop.coop_year(reg, ref, 2024).professionals


@pytest.mark.parametrize("old,new,column,message", [
    ("CTG-241700434-1;241700434", "CTG-241700434-1;241700435", "siren_epci", "SIREN inconnu"),
    ("2021-01-01;2025-12-31", "2021-01-01;2020-12-31", "date_fin", "antérieure"),
    ("petite enfance | jeunesse | soutien à la parentalité | animation de la vie sociale | accès aux droits et inclusion numérique | logement | handicap",
     "petite enfance | sport", "thematiques", "thématique inconnue « sport »"),
    ("2021-06-28", "28/06/2021", "date_signature", "date invalide"),
    ("CTG-200041762-1", "CTG-241700434-1", "id_ctg", "identifiant en double"),
])
def test_ctg_register_errors_name_file_row_column(regdir, ref, old, new, column, message):
    path = regdir / "ctg.csv"
    edit(path, old, new)
    row = line_of(path, new)
    with pytest.raises(DataError) as e:
        load_registers(regdir, ref.sirens())
    text = str(e.value)
    assert "ctg.csv" in text and f"ligne {row}" in text and f"colonne « {column} »" in text and message in text


def test_posts_register_errors(regdir, ref):
    path = regdir / "postes_cooperation.csv"
    edit(path, "P002;241700434;thématique;0.8", "P002;241700434;thématique;-0.8")
    edit(path, "P003;", "P001;")
    with pytest.raises(DataError) as e:
        load_registers(regdir, ref.sirens())
    text = str(e.value)
    assert "postes_cooperation.csv, ligne 3, colonne « etp »" in text and "positive" in text
    assert "ligne 4, colonne « id_poste »" in text and "identifiant en double « P001 » (déjà ligne 2)" in text


def test_missing_column(regdir, ref):
    path = regdir / "reunions_reseau.csv"
    edit(path, "date;type;publics", "jour;type;publics")
    with pytest.raises(DataError) as e:
        load_registers(regdir, ref.sirens())
    assert "reunions_reseau.csv, colonne « date » : colonne obligatoire absente" in str(e.value)


def _reg(ctg_rows=(), post_rows=()):
    from helpers.data.registers import Registers

    ctg = pd.DataFrame(ctg_rows, columns=["id_ctg", "siren_epci", "date_signature", "date_debut", "date_fin"])
    for c in ("date_signature", "date_debut", "date_fin"):
        ctg[c] = pd.to_datetime(ctg[c])
    ctg["themes"] = [["jeunesse"]] * len(ctg)
    ctg["source"] = "test"
    postes = pd.DataFrame(post_rows, columns=["id_poste", "siren_epci", "type_poste", "etp", "financement_caf",
                                              "financement_collectivites", "date_debut", "date_fin"])
    for c in ("date_debut", "date_fin"):
        postes[c] = pd.to_datetime(postes[c])
    postes["source"] = "test"
    reunions = pd.DataFrame({"date": pd.to_datetime([]), "audiences": [], "source": []})
    return Registers(ctg, postes, reunions, ())


def test_as_of_year_boundaries(ref):
    a, b, c = "200036473", "200041499", "241700434"
    reg = _reg([
        ("x", a, "2023-12-31", "2023-01-01", "2027-12-31"),  # signed on 31 December: covered, signed in 2023
        ("y", b, "2019-03-01", "2019-01-01", "2023-12-31"),  # ends on 31 December: still covered in 2023
        ("z", c, "2023-11-15", "2024-01-01", "2028-12-31"),  # starts 1 January 2024: not covered in 2023
    ])
    y23 = ind.ctg_year(reg, ref, 2023)
    assert y23.covered == {a, b}
    assert set(y23.signed.id_ctg) == {"x", "z"}
    assert set(y23.ending.id_ctg) == {"y"}
    st = y23.status.set_index("siren").statut
    assert st[a] == ind.STATUS_SIGNED and st[b] == ind.STATUS_BEFORE and st[c] == ind.STATUS_NONE
    y24 = ind.ctg_year(reg, ref, 2024)
    assert y24.covered == {a, c}
    y22 = ind.ctg_year(reg, ref, 2022)
    assert y22.covered == {b}  # x not yet signed on 31/12/2022


def test_posts_as_of(ref):
    reg = _reg(post_rows=[
        ("p1", "200036473", "coopération", 1.0, 20000, 20000, "2023-12-31", None),  # starts on 31/12: active
        ("p2", "200036473", "thématique", 0.5, 10000, 10000, "2020-01-01", "2023-12-31"),  # ends on 31/12: active
        ("p3", "200036473", "thématique", 0.5, 10000, 10000, "2020-01-01", "2023-12-30"),  # ended before
        ("p4", "241700434", "infra-territorial", 0.8, 15000, 15000, "2024-01-01", None),  # starts 1/1 next year
    ])
    k = ind_coop.coop_year(reg, ref, 2023)
    assert set(k.posts.id_poste) == {"p1", "p2"}
    assert k.fte == 1.5 and k.caf_funding == 30000
    row = k.by_epci.set_index("siren").loc["200036473"]
    assert row.etp_10000_hab == pytest.approx(1.5 / row.population_municipale * 10000)


def test_rapport_check_reports_every_problem(regdir, terminal):
    from helpers import cli

    edit(regdir / "ctg.csv", "2021-06-28", "28/06/2021")
    edit(regdir / "postes_cooperation.csv", "P002;241700434;thématique;0.8", "P002;241700434;pilotage;0.8")
    code = cli.main(["check", "--year", "2023", "--set", f"registers_dir={regdir.parent}"])
    err = terminal.readouterr().err
    assert code == 1
    assert "2 problèmes" in err
    assert "ctg.csv, ligne" in err and "colonne « date_signature »" in err
    assert "postes_cooperation.csv, ligne 3, colonne « type_poste » : valeur inconnue" in err
    assert cli.main(["check", "--year", "2023"]) == 0
    assert "Aucun problème" in terminal.readouterr().out
