"""Commentary that interprets (issue 22, items 2 and 3): each sentence after a table or a figure is computed
from it, says the direction and size of a change with the right unit (percent for counts, points for shares,
a ratio as « fois plus »), and compares with the region and France where the shipped series allow."""
import re

import pandas as pd
import pytest

from helpers import fmt
from helpers.chapters import cooperation, ctg, portrait
from helpers.chapters.context import open_chapter
from helpers.report.page import render_text

CASES = [(2021, "17"), (2023, "17"), (2024, "17"), (2023, "2A"), (2023, "13")]


def _said(res) -> str:
    return "" if res is None else re.sub(r"<[^>]+>", "", render_text(*res, marks=True))


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[1]}-{c[0]}")
def portrait_ctx(request):
    year, dep = request.param
    return open_chapter("portrait", year, dep)


def test_compare_words_hold_for_every_sign():
    assert "alors que la France est en baisse (−2,0\u202f%)" in portrait._compare(0.019, -0.020, "la France")
    assert "une évolution proche de celle de la France" in portrait._compare(-0.014, -0.012, "la France")
    assert "une baisse plus marquée qu’en France" in portrait._compare(-0.157, -0.020, "la France")
    assert "une baisse moins marquée qu’en France" in portrait._compare(-0.007, -0.020, "la France")
    assert "une hausse plus marquée qu’en Corse" in portrait._compare(0.05, 0.01, "Corse")


def test_epci_commentary_states_the_table(portrait_ctx):
    res = portrait.commentaire_epci(portrait_ctx)
    t = portrait.tableau_epci(portrait_ctx)
    if t is None or len(t[2]) < 2:
        assert res is None
        return
    df = t[2]
    text = _said(res)
    assert fmt.pourcent(df.part_habitants_couverts.max()) in text and fmt.pourcent(df.part_habitants_couverts.min()) in text
    gap = round(100 * df.part_habitants_couverts.max()) - round(100 * df.part_habitants_couverts.min())
    assert f"écart de {fmt.nombre(gap)} point" in text  # points, never « % », for a gap between shares
    whole = df.indnbp_ndur.sum() / df.population_municipale.sum()
    above = int((df.part_habitants_couverts.map(lambda x: round(100 * x)) > round(100 * whole)).sum())
    assert ("aucun EPCI" in text) if above == 0 else (f"{'un seul' if above == 1 else fmt.nombre(above)} des" in text)
    assert "moyenne" not in text and "((" not in text and "))" not in text


def test_evolution_commentary_follows_the_yearly_table(portrait_ctx):
    res = portrait.commentaire_evolution(portrait_ctx)
    df = portrait.evolution(portrait_ctx)
    text = _said(res)
    first, last = df.iloc[0], df.iloc[-1]
    change = last.foyers / first.foyers - 1
    word = "augmente" if change > 0 else "diminue"
    assert f"De décembre {int(first.annee)} à décembre {int(last.annee)}" in text
    assert f"foyers allocataires {word} de {fmt.nombre(abs(100 * change), 1)}" in text
    yearly = (df.foyers / df.foyers.shift() - 1).iloc[1:]
    if len(df) >= 3:
        assert f"celle de {int(df.annee[yearly.abs().idxmax()])}" in text


def test_france_comparison_reads_the_national_series(portrait_ctx):
    res = portrait.comparaison_prestations(portrait_ctx)
    assert res is not None
    table, resume, facts = res
    s = portrait_ctx.series
    year = portrait_ctx.year
    for groupe, dep, reg, fr in facts:
        if groupe == "Allocations familiales":  # the three territories from the same département series
            assert "Allocations familiales : les trois territoires" in resume
            f = s.frame[(s.frame.prestation == "AF")].set_index(["territoire", "annee"]).foyers
            assert fr == pytest.approx(f["france", year] / f["france", year - 1] - 1)
            assert reg == pytest.approx(f["region", year] / f["region", year - 1] - 1)
        else:
            assert fr == pytest.approx(s.france(groupe, year) / s.france(groupe, year - 1) - 1)
            assert pd.isna(reg)
    assert "Petite enfance (Paje)" not in {f[0] for f in facts}  # no series: said « – » and in the summary
    assert "petite enfance (Paje)." in resume.split("ni nationale pour : ")[1]
    assert "n.d." not in table.to_string()
    text = _said(portrait.commentaire_prestations(portrait_ctx))
    g, d, _, f = max(((g, d, r, f) for g, d, r, f in facts if pd.notna(f)), key=lambda x: abs(x[1] - x[3]))
    assert fmt.variation(d, 1, True) in text and fmt.variation(f, 1, True) in text


def test_the_complement_familial_gap_with_france_is_said():
    """The striking fact of the 2023 edition: the CF −15,7 % in the département against −2,0 % in France."""
    text = _said(portrait.commentaire_af_cf(open_chapter("portrait", 2023, "17")))
    assert ("complément familial : −15,7\u202f% dans le département, une baisse plus marquée qu’en France "
            "(−2,0\u202f%)") in text


def test_most_common_benefits_are_computed_not_typed(portrait_ctx):
    text = _said(portrait.plus_repandues(portrait_ctx))
    b = portrait.ind.benefit_groups(portrait.totaux(portrait_ctx, portrait_ctx.year), None)
    top = b.sort_values("foyers", ascending=False).head(3)
    positions = [text.index(portrait._LE[g]) for g in top.groupe]
    assert positions == sorted(positions)
    assert fmt.pourcent(top.part.iloc[0]) + " des foyers allocataires" in text


@pytest.mark.parametrize("year, dep", [(2023, "17"), (2023, "2A"), (2023, "13")])
def test_childcare_commentary_is_a_ratio_and_a_count_below_france(year, dep):
    ctx = open_chapter("ctg", year, dep)
    text = _said(ctg.commentaire_petite_enfance(ctx))
    df = ctg._petite_enfance(ctx).dropna(subset=["txcouv"])
    ratio = df.txcouv.max() / df.txcouv.min()
    assert f"{fmt.nombre(ratio, 1)} fois plus de places" in text
    assert "du simple au double" not in text or 1.75 <= ratio < 2.5
    fr = ctx.childcare.value("france", "FR")
    below = int((df.txcouv.round(1) < round(fr, 1)).sum())
    assert ("tous les EPCI sont sous" in text) if below == len(df) else (f"{fmt.nombre(below)} des" in text
                                                                          or "un seul" in text or "aucun" in text)
    assert "((" not in text


@pytest.mark.parametrize("year", [2021, 2023])
def test_ctg_and_cooperation_commentaries_carry_the_registers_mark(year):
    c = open_chapter("ctg", year, "17")
    for res in (ctg.commentaire_frise(c), ctg.commentaire_thematiques(c)):
        assert res is not None and "marque-illustratif" in render_text(*res, marks=True)
    themes = _said(ctg.commentaire_thematiques(c))
    st = ctg.annee(c).status
    n = int((st.statut != ctg.ind.STATUS_NONE).sum())
    assert f"Les {fmt.nombre(n)} CTG en vigueur" in themes
    k = open_chapter("cooperation", year, "17")
    types = _said(cooperation.commentaire_types(k))
    assert "relèvent de" in types and "de des" not in types
    epci = _said(cooperation.commentaire_epci(k))
    assert "mieux doté" not in epci  # illustrative rows never make a ranking
