"""The EPCI portrait for a CTG's shared diagnosis, read from its chapter functions on several EPCI of the 17 and
on every EPCI of the 2A: the comparison with the département, the region and France, the commentary (computed,
true for each EPCI: rates compared in points, a rank with what is ranked and in which direction), the names on
the map, the posts named by what they are, the national file checked on load."""
import re

import pandas as pd
import pytest

from helpers.chapters import context, territoire
from helpers.data.series import load_national_counts
from helpers.errors import DataError

# Ré (smallest rate of the 17), La Rochelle (many communes: only its main towns named), Aunis Atlantique; in the
# 2A the Pays Ajaccien, the Sud Corse and Spelunca-Liamone (lowest rate, smallest counts); the e2e build of the 2A
# portraits reads the others
EPCI = [("17", "241700459"), ("17", "241700434"), ("17", "200041499"),
        ("2A", "242010056"), ("2A", "200040764"), ("2A", "200067049")]


def _num(text: str) -> float:
    return float(text.replace(",", "."))


@pytest.fixture(scope="module", params=EPCI, ids=[f"{d}-{s}" for d, s in EPCI])
def ctx(request):
    dep, siren = request.param
    return context.open_chapter("territoire", 2023, dep, None, {"territoire": siren}, None)


def test_commentary_holds_for_the_epci(ctx):
    text = territoire.commentaire(ctx)[1]["commentaire"]
    c = territoire.comparaisons(ctx).set_index("indicateur")
    table = territoire.classement(ctx)
    rank = int(table.index[table.siren == ctx.p.territoire][0]) + 1
    assert "moyenne" not in text  # rates, never called means
    # the coverage against the département, in points, its sign agreeing with the printed figures
    m = re.search(r"Caf \((\d+)\s?%\) est (supérieure|inférieure|égale)(?: de (\d+) points?)? à celle du "
                  r"département \((\d+)\s?%\)", text)
    assert m, text
    mine, word, gap, dep = int(m[1]), m[2], m[3], int(m[4])
    cov = c.loc["Part des habitants couverts par la Caf"]
    assert (mine, dep) == (round(cov.epci * 100), round(cov.departement * 100))
    assert word == ("supérieure" if mine > dep else "inférieure" if mine < dep else "égale")
    assert gap is None if mine == dep else int(gap) == abs(mine - dep)
    # the rank says what is ranked and in which direction
    assert territoire.rang_explique(rank, len(table)) in text
    # childcare beside France for every EPCI with a childcare rate
    pe = territoire.petite_enfance(ctx)
    assert pe is not None and pe["france"] is not None
    m = re.search(r"\(([\d,]+) places pour 100 enfants\) est (supérieure|inférieure|égale) .*?celle de la France "
                  r"\(([\d,]+)\)", text)
    assert m, text
    assert (_num(m[1]), _num(m[3])) == (round(pe["epci"], 1), round(pe["france"], 1))
    assert m[2] == ("supérieure" if _num(m[1]) > _num(m[3]) else "inférieure" if _num(m[1]) < _num(m[3]) else "égale")


def test_comparisons_beside_departement_region_and_france(ctx):
    c = territoire.comparaisons(ctx)
    af = c[c.indicateur.str.startswith("Allocations familiales")].iloc[0]
    assert all(pd.notna(af[k]) for k in ("epci", "departement", "region", "france"))
    national = c[c.indicateur.str.startswith(("Revenu de solidarité", "Prime d’activité", "Aides au logement"))]
    assert len(national) == 3 and national.france.notna().all()
    # France's RSA change from the national file, by hand: 1 823,8 thousand in 2023 against 1 859,6 in 2022
    rsa = national[national.indicateur.str.startswith("Revenu")].france.iloc[0]
    assert rsa == pytest.approx(1823.8 / 1859.6 - 1)
    table, resume = territoire.tableau_comparaisons(ctx)
    assert list(table.columns)[-1] == "France" and "« – »" in resume
    assert "n.d." not in table.to_string()


def test_map_names_the_main_towns(ctx):
    c = territoire.communes(ctx)
    named = territoire.villes_principales(c)
    assert len(named) == min(len(c), territoire.MAIN_TOWNS)
    biggest = c.sort_values("population", ascending=False).nom.iloc[0]
    assert biggest in set(named.nom)
    carte = territoire.carte_communes(ctx)
    if carte is not None:
        fig, alt = carte
        named_part = alt.split("communes nommées : ", 1)[1]
        assert sorted(named_part.removesuffix(".").split(", ")) == sorted(named.nom)


def test_commune_table_ends_with_the_epci_total(ctx):
    table, _ = territoire.tableau_communes(ctx)
    c = territoire.communes(ctx)
    last = table.iloc[-1]
    assert last["Commune"] == f"Ensemble de l’EPCI ({len(c)} communes)"
    assert int(re.sub(r"\D", "", last["Personnes couvertes"])) == int(c.indnbp_ndur.sum())


def test_posts_named_by_type_epci_and_etp():
    acts = pd.DataFrame({"type_poste": ["thématique", "coopération", "thématique"], "etp": [0.8, 1.0, 0.5]})
    assert territoire.noms_postes(acts, "CC Aunis Sud") == [
        "Chargé de coopération thématique (1 sur 2), CC Aunis Sud, 0,8 ETP",
        "Chargé de coopération, CC Aunis Sud, 1,0 ETP",
        "Chargé de coopération thématique (2 sur 2), CC Aunis Sud, 0,5 ETP"]


def test_rank_explained_and_lone_epci():
    assert territoire.rang_explique(1, 13) == "1\u1d49\u02b3 sur 13 EPCI, de la part la plus élevée à la plus basse"
    assert territoire.rang_explique(1, 1) == "seul EPCI du département"


def test_national_file_checked_on_load(tmp_path):
    (tmp_path / "allocataires-cnaf.csv").write_text("period,series,value\n2023,rsa,1823.8\n2023,aah,1\n",
                                                    encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_national_counts(tmp_path)
    assert "allocataires-cnaf.csv" in str(exc.value) and "ligne 3" in str(exc.value) and "series" in str(exc.value)
    (tmp_path / "allocataires-cnaf.csv").write_text("period,series,value\n2023,rsa,1823.8\n2023,rsa,1\n",
                                                    encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_national_counts(tmp_path)
    assert "en double" in str(exc.value)
    assert load_national_counts(tmp_path / "absent") is None
