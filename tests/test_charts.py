"""Honest charts: what a legend shows is what is drawn, labels never run together, both panels of
Figure 1 on the same relative scale, each source line names only what the figure reads."""
from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from helpers.chapters import ctg, portrait
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


def test_sources_name_only_what_the_figure_reads(ctx_ctg):
    assert "DGCL" not in ctg.source(ctx_ctg), "la frise et les thématiques ne lisent aucune population"
    assert "DGCL, populations légales" in ctg.source(ctx_ctg, populations=True)
    assert "IGN" in ctg.source(ctx_ctg, contours=True) and "DGCL" not in ctg.source(ctx_ctg, contours=True)
