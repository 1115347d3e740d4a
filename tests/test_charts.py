"""Honest charts: what a legend shows is what is drawn, labels never run together, both panels of
Figure 1 on the same relative scale, each source line names only what the figure reads."""
from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from helpers import lineage
from helpers.chapters import cooperation, ctg, portrait
from helpers.chapters.context import open_chapter
from helpers.report import charts


@pytest.fixture(scope="module")
def ctx_portrait():
    return open_chapter("portrait", 2023)


@pytest.fixture(scope="module")
def ctx_ctg():
    return open_chapter("ctg", 2023)


def _tick_boxes(ax, renderer):
    return [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]


def test_evolution_panels_share_one_relative_scale(ctx_portrait):
    fig, _ = portrait.figure_evolution(ctx_portrait)
    spans = [(ax.get_ylim()[1] - ax.get_ylim()[0]) / (sum(ax.get_ylim()) / 2) for ax in fig.axes[:2]]
    assert spans[0] == pytest.approx(spans[1], rel=1e-6)
    assert spans[0] >= charts.EVOLUTION_SPAN - 1e-9, "a change of 1 % never fills the panel"
    plt.close(fig)


def test_timeline_legend_shows_the_colours_drawn(ctx_ctg):
    fig, _ = ctg.frise(ctx_ctg)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_width() > 0]
    legend = ax.get_legend()
    swatch = next(h for h in legend.legend_handles if isinstance(h, plt.Rectangle))
    assert mcolors.to_hex(swatch.get_facecolor()) == mcolors.to_hex(bars[0].get_facecolor())
    assert mcolors.to_hex(swatch.get_edgecolor()) == mcolors.to_hex(bars[0].get_edgecolor())
    plt.close(fig)


def test_timeline_year_labels_never_run_together(ctx_ctg):
    fig, _ = ctg.frise(ctx_ctg)
    fig.canvas.draw()
    boxes = _tick_boxes(fig.axes[0], fig.canvas.get_renderer())
    assert len(boxes) >= 3
    for a, b in zip(boxes, boxes[1:]):
        assert b.x0 - a.x1 >= 4, "deux années de la frise se touchent"
    plt.close(fig)


def test_long_timeline_thins_its_year_labels():
    rows = [{"siren_epci": str(i), "date_signature": pd.Timestamp(2010 + i, 6, 1), "date_debut": pd.Timestamp(2010 + i, 1, 1),
             "date_fin": pd.Timestamp(2014 + i, 12, 31)} for i in range(10)]
    fig = charts.timeline(pd.DataFrame(rows), {}, 2023)
    fig.canvas.draw()
    boxes = _tick_boxes(fig.axes[0], fig.canvas.get_renderer())
    for a, b in zip(boxes, boxes[1:]):
        assert b.x0 - a.x1 >= 4
    plt.close(fig)


def _source(ctx, obj) -> str:
    return lineage.phrase(lineage.of(obj), ctx.p.caf_name)


def test_sources_name_only_what_the_figure_reads(ctx_ctg):
    """The source line is written from what the figure was computed from (not typed)."""
    frise, _ = ctg.frise(ctx_ctg)
    themes, _ = ctg.tableau_thematiques(ctx_ctg)
    statut, _ = ctg.tableau_statut(ctx_ctg)
    for obj in (frise, themes):
        text = _source(ctx_ctg, obj)
        assert "registre des conventions territoriales globales" in text
        assert "DGCL" not in text and "IGN" not in text, "la frise et les thématiques ne lisent aucune population"
    assert "DGCL, populations légales des EPCI en vigueur en 2023" in _source(ctx_ctg, statut)
    pe, _ = ctg.tableau_petite_enfance(ctx_ctg)
    text = _source(ctx_ctg, pe)
    assert "petite enfance 2023" in text and "registre" not in text and "DGCL" not in text
    carte = ctg.carte_petite_enfance(ctx_ctg)
    assert carte is not None and "IGN, Admin Express, contours des EPCI" in _source(ctx_ctg, carte[0])
    plt.close(frise)
    plt.close(carte[0])


def test_portrait_sources_follow_the_data_read(ctx_portrait):
    fig, _ = portrait.figure_evolution(ctx_portrait)
    years = sorted(int(y) for y in portrait.evolution(ctx_portrait).annee)
    assert f"s_ben_com_f, décembre {years[0]} à décembre {years[-1]}" in _source(ctx_portrait, fig)
    assert "DGCL" not in _source(ctx_portrait, fig) and "IGN" not in _source(ctx_portrait, fig)
    table, _, _ = portrait.tableau_epci(ctx_portrait)
    text = _source(ctx_portrait, table)
    assert text.startswith("Sources : Cnaf, Cafdata s_ben_com_f, décembre 2023 ; DGCL, populations légales des EPCI "
                           "en vigueur en 2023"), text
    assert text.endswith(f"traitement {ctx_portrait.p.caf_name}.")
    carte, _ = portrait.carte_communes(ctx_portrait)
    text = _source(ctx_portrait, carte)
    assert "IGN, Admin Express, contours des communes et des EPCI" in text
    assert "populations municipales des communes" in text
    af, _ = portrait.figure_af_cf(ctx_portrait)
    assert "af_" in _source(ctx_portrait, af).lower() or "AF" in _source(ctx_portrait, af)
    for f in (fig, carte, af):
        plt.close(f)


def test_cooperation_table_cites_the_populations_it_divides_by():
    ctx = open_chapter("cooperation", 2023)
    types, _ = cooperation.tableau_types(ctx)
    by_epci, _ = cooperation.tableau_epci(ctx)
    meetings, _ = cooperation.tableau_reunions(ctx)
    assert _source(ctx, types) == (f"Source : Caf, registre des postes de coopération au {ctx.date_obs} "
                                   f"(données illustratives) ; traitement {ctx.p.caf_name}.")
    assert "DGCL, populations légales des EPCI" in _source(ctx, by_epci)  # ETP pour 10 000 habitants
    assert "rencontres du réseau" in _source(ctx, meetings) and "postes" not in _source(ctx, meetings)


def test_a_read_added_to_a_figure_shows_in_its_source(ctx_portrait):
    """Not typed: a function that also reads the outlines gets them in its source line."""
    @lineage.sourced
    def figure(ctx):
        fig, alt = portrait.figure_evolution(ctx)
        ctx.geo.epci()
        return fig, alt

    fig, _ = figure(ctx_portrait)
    assert "IGN, Admin Express, contours des EPCI" in _source(ctx_portrait, fig)
    plt.close(fig)


def test_a_figure_without_lineage_is_refused():
    from helpers.report.page import FigureError, Page

    fig, _ = plt.subplots()
    with pytest.raises(FigureError, match="source inconnue"):
        Page("essai").figure(fig, id="fig-x", titre="Titre", alt="Texte")
    plt.close(fig)
