"""« L'essentiel »: the rules that pick the key messages, on small frames (a message the data do not
support never appears), then on the shipped data of several years and on the demonstration set."""
from __future__ import annotations

import pandas as pd
import pytest

from helpers.indicators import essentiel as rules

NNBSP = "\u202f"


def _groups(*rows):
    return pd.DataFrame(rows, columns=["groupe", "foyers", "variation"])


def test_largest_change_needs_a_real_change_on_enough_foyers():
    c = rules.largest_change(_groups(("Aides au logement", 50_000, -0.114), ("RSA", 12_000, 0.03)))
    assert c.groupe == "Aides au logement" and c.variation == -0.114
    assert rules.largest_change(_groups(("A", 50_000, 0.019), ("B", 9_000, -0.01))) is None  # below 2 %
    assert rules.largest_change(_groups(("A", 900, 0.5), ("B", 9_000, 0.021))).groupe == "B"  # too few foyers
    assert rules.largest_change(_groups(("A", 5_000, float("nan")))) is None  # no previous year


def _series(dep, fr, region=None, prestation="CF"):
    rows = []
    for territoire, (a, b) in (("departement", dep), ("france", fr)) + ((("region", region),) if region else ()):
        rows += [(2016, prestation, territoire, a), (2023, prestation, territoire, b)]
    return pd.DataFrame(rows, columns=["annee", "prestation", "territoire", "foyers"])


def test_gap_with_france_in_points_only_when_large_enough():
    g = rules.gap_with_france(_series((1000, 843), (100_000, 98_000), (10_000, 9_460)), 2016, 2023)
    assert g.prestation == "CF" and round(g.departement, 3) == -0.157 and round(g.france, 3) == -0.02
    assert round(100 * g.points, 1) == -13.7 and round(g.region, 3) == -0.054
    assert rules.gap_with_france(_series((1000, 990), (100_000, 98_000)), 2016, 2023) is None  # 1 point
    assert rules.gap_with_france(_series((1000, 843), (100_000, 98_000)), 2023, 2023) is None  # no period
    both = pd.concat([_series((1000, 843), (100_000, 98_000)), _series((2000, 2100), (100_000, 101_000), None, "AF")])
    assert rules.gap_with_france(both, 2016, 2023).prestation == "CF"  # the largest of the two gaps


def test_extremes_among_epci_are_a_ratio_never_a_tie():
    t = pd.DataFrame({"nom": ["Ré", "Aunis", "Royan", "Saintes"], "taux": [0.29, 0.50, 0.40, 0.41]})
    e = rules.extremes(t, "taux")
    assert (e.lowest, e.highest, e.n) == ("Ré", "Aunis", 4) and round(e.ratio, 2) == 1.72
    assert rules.extremes(t.head(2), "taux") is None  # fewer than 3 EPCI
    assert rules.extremes(t.assign(taux=[0.40, 0.44, 0.42, 0.41]), "taux") is None  # × 1,1: no contrast
    assert rules.extremes(t.assign(taux=[0.29, 0.50, 0.50, 0.41]), "taux") is None  # two share the top


def test_below_france_lists_the_epci_or_says_none_is():
    t = pd.DataFrame({"nom": ["A", "B", "C", "D"], "txcouv": [57.8, 96.7, 60.0, None]})
    b = rules.below(t, "txcouv", 60.9)
    assert b.names == ["A", "C"] and b.n == 3
    assert rules.below(t, "txcouv", 50.0).names == []
    assert rules.below(t, "txcouv", None) is None and rules.below(t.head(2), "txcouv", 60.9) is None


@pytest.fixture(scope="module")
def messages():
    from helpers.build import check
    from helpers.chapters import essentiel
    from helpers.params import resolve

    out = {y: essentiel.messages(check(resolve(y)).contexts) for y in (2021, 2022, 2023, 2024)}
    out["demo"] = essentiel.messages(check(resolve(2023, overrides={"demo": True})).contexts)
    return out


def test_every_year_has_four_to_six_messages_each_one_sentence(messages):
    for year in (2021, 2022, 2023, 2024):
        ms = messages[year]
        assert 4 <= len(ms) <= 6, year
        for m in ms:
            assert m.text.endswith(".") and m.text.count(". ") == 0, m.text  # one sentence
            assert any(ch.isdigit() for ch in m.text), m.text  # with its figure
            assert "moyenne" not in m.text and "du simple au double" not in m.text
        assert ms[0].rule == "effectifs" and str(year) in ms[0].text


def test_2023_messages_carry_the_figures_of_the_data(messages):
    by_rule = {m.rule: m.text for m in messages[2023]}
    assert f"−15,7{NNBSP}%" in by_rule["ecart-france"] and f"−2,0{NNBSP}% en France" in by_rule["ecart-france"]
    assert f"−13,7{NNBSP}points" in by_rule["ecart-france"]
    assert "CC Aunis Atlantique" in by_rule["extremes-epci"] and "CC de l’Île de Ré" in by_rule["extremes-epci"]
    assert "×\u00a01,77" in by_rule["extremes-epci"]
    assert "CC Vals de Saintonge Communauté" in by_rule["petite-enfance"]
    assert "CC de la Haute Saintonge" in by_rule["petite-enfance"]
    assert {m.rule: m.illustrative for m in messages[2023]}["ctg"]  # illustrative registers: marked


def test_2021_names_the_fall_of_the_housing_benefits(messages):
    change = next(m.text for m in messages[2021] if m.rule == "evolution")
    assert change.startswith("Aides au logement : −11,4") and "baisse" in change


def test_demonstration_data_feed_no_ranking_and_no_evolution(messages):
    rules_demo = {m.rule for m in messages["demo"]}
    assert "extremes-epci" not in rules_demo and "evolution" not in rules_demo
    assert all(m.illustrative for m in messages["demo"] if m.chapter == "portrait")
