"""Charts in one house style: seaborn theme, Okabe-Ito colour-blind-safe palette (distinct in
greyscale too, by lightness), sized for an A4 column at print resolution."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from helpers import fmt  # noqa: E402

# Okabe-Ito, ordered so that neighbours differ in lightness (greyscale-readable).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
BLUE, ORANGE, GREEN, VERMILION, SKY, PURPLE = PALETTE[:6]
GREY = "#BBBBBB"
WIDTH = 6.3  # inches: the text width of an A4 page with 2 cm margins
DPI = 200


def theme() -> None:
    sns.set_theme(style="whitegrid", palette=PALETTE, font="DejaVu Sans", rc={
        "figure.dpi": 100, "savefig.dpi": DPI, "axes.titlesize": 11, "axes.labelsize": 9.5,
        "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9, "axes.spines.top": False,
        "axes.spines.right": False, "axes.edgecolor": "#555555", "grid.color": "#E3E3E3",
        "axes.titlelocation": "left", "axes.titleweight": "bold", "text.color": "#222222",
        "axes.labelcolor": "#222222", "xtick.color": "#333333", "ytick.color": "#333333",
        # Labels come from the data (EPCI names...): a `$` is a dollar sign, never the start of mathtext.
        "text.parse_math": False,
    })


theme()


def _fr_axis(ax, axis: str = "y", decimals: int = 0, percent: bool = False) -> None:
    f = (lambda v, _: fmt.pourcent(v, decimals)) if percent else (lambda v, _: fmt.nombre(v, decimals))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(mticker.FuncFormatter(f))


EVOLUTION_SPAN = 0.10  # share of the mean value that the full height of each panel shows, at least


def evolution_span(df: pd.DataFrame, cols=("foyers", "personnes")) -> float:
    """The relative span shared by the panels of `evolution`: the whole height of each panel is this
    share of its mean value, so that one percent looks the same on both and a small change stays small."""
    rel = max(((df[c].max() - df[c].min()) / df[c].mean()) for c in cols)
    return max(EVOLUTION_SPAN, round(rel * 1.6 + 0.005, 2))


def evolution(df: pd.DataFrame, year: int) -> plt.Figure:
    """Foyers allocataires and personnes couvertes by December, with the report's year marked.
    The vertical axes are cut (the values are far from zero) at the same relative scale: each
    panel's height is the same share of its mean value (said on the chart)."""
    span = evolution_span(df)
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 2.8), sharex=True)
    for ax, col, title, color in ((axes[0], "foyers", "Foyers allocataires", BLUE),
                                  (axes[1], "personnes", "Personnes couvertes", ORANGE)):
        ax.plot(df.annee, df[col], marker="o", color=color, linewidth=2, markersize=4)
        cur = df[df.annee == year]
        mid = (df[col].min() + df[col].max()) / 2
        lo, hi = mid * (1 - span / 2), mid * (1 + span / 2)
        ax.set_ylim(lo, hi)
        ax.yaxis.set_major_locator(mticker.MaxNLocator(5))
        if not cur.empty:
            ax.scatter(cur.annee, cur[col], s=60, color=color, zorder=3, edgecolor="black")
            ax.annotate(fmt.nombre(cur[col].iloc[0]), (cur.annee.iloc[0], cur[col].iloc[0]),
                        xytext=(0, 9), textcoords="offset points", ha="center", va="bottom", fontsize=8.5,
                        fontweight="bold")
        ax.set_title(title)
        _fr_axis(ax)
        ax.set_xticks(df.annee)
        ax.set_xlim(df.annee.min() - 0.5, df.annee.max() + 0.5)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{int(v)}"))
        if len(df) > 6:
            for label in ax.get_xticklabels()[1::2]:
                label.set_visible(False)
    fig.text(0.01, 0.0, f"Axes verticaux coupés, à la même échelle : la hauteur de chaque graphique représente "
             f"{fmt.pourcent(span)} de sa valeur moyenne.", fontsize=7.5, color="#555555", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def index_panels(df: pd.DataFrame, names: dict[str, str], order: list[str], titles: dict[str, str],
                 base_year: int) -> plt.Figure:
    """One panel per benefit, one line per territory, as an index (base_year = 100): the
    territories are compared on the same scale whatever their size."""
    benefits = list(dict.fromkeys(df.prestation))
    fig, axes = plt.subplots(1, len(benefits), figsize=(WIDTH, 3.0), sharey=True)
    axes = list(axes) if len(benefits) > 1 else [axes]
    colors = dict(zip(order, [BLUE, ORANGE, "#555555"]))
    styles = dict(zip(order, ["-", "--", ":"]))
    for ax, b in zip(axes, benefits):
        for t in order:
            part = df[(df.prestation == b) & (df.territoire == t)]
            if part.empty:
                continue
            ax.plot(part.annee, part.indice, color=colors[t], linestyle=styles[t], linewidth=2.2 if t == order[0] else 1.6,
                    marker="o" if t == order[0] else None, markersize=3.5, label=names[t])
        ax.axhline(100, color="#999999", linewidth=0.8)
        ax.set_title(titles.get(b, b).capitalize())
        years = sorted(df.annee.unique())
        ax.set_xticks(years)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{int(v)}"))
        for label in ax.get_xticklabels()[1::2]:
            label.set_visible(False)
        _fr_axis(ax)
    axes[0].set_ylabel(f"indice, base 100 en {base_year}")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def barh(labels, values, value_fmt=fmt.nombre, color=BLUE, highlight=None, xlabel: str = "",
         height_per_bar: float = 0.32, percent: bool = False, axis_decimals: int = 0) -> plt.Figure:
    """Horizontal bars sorted as given, with the value printed at the end of each bar."""
    labels, values = list(labels), list(values)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.6 + height_per_bar * len(labels)))
    colors = [VERMILION if highlight is not None and lab in highlight else color for lab in labels]
    ax.barh(range(len(labels)), values, color=colors)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    vmax = max(values) if values else 1
    for i, v in enumerate(values):
        ax.text(v + vmax * 0.01, i, value_fmt(v), va="center", fontsize=8.5)
    ax.set_xlim(0, vmax * 1.15)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(5))
    _fr_axis(ax, "x", decimals=axis_decimals, percent=percent)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


FAMILY_LABELS = {"isolé": "Personne seule", "couple": "Couple", "monoparent": "Famille monoparentale"}


def stacked_family(table: pd.DataFrame) -> plt.Figure:
    """Shares of foyers by family configuration, stacked by number of children, totals at the end."""
    fig, ax = plt.subplots(figsize=(WIDTH, 2.5))
    names = [FAMILY_LABELS.get(i, i) for i in table.index]
    left = pd.Series(0.0, index=table.index)
    labels = {"0": "sans enfant", "1": "1 enfant", "2": "2 enfants", "3+": "3 enfants ou plus"}
    colors = {"0": ORANGE, "1": SKY, "2": BLUE, "3+": "#003F66"}
    for col in table.columns:
        ax.barh(names, table[col], left=left.values, color=colors.get(col, GREY), label=labels.get(col, col),
                edgecolor="white")
        left += table[col]
    for i, total in enumerate(left):
        ax.text(total + left.max() * 0.01, i, fmt.pourcent(total), va="center", fontsize=8.5)
    ax.set_xlim(0, left.max() * 1.15)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(mticker.MaxNLocator(5))
    _fr_axis(ax, "x", percent=True)
    ax.set_xlabel("part des foyers allocataires")
    ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def timeline(ctg: pd.DataFrame, names: dict[str, str], year: int) -> plt.Figure:
    """Convention periods by EPCI (bars) and signature dates (diamonds)."""
    order = sorted(ctg.siren_epci.unique(), key=lambda s: (ctg[ctg.siren_epci == s].date_signature.min(), names.get(s, s)))
    fig, ax = plt.subplots(figsize=(WIDTH, 0.55 + 0.3 * len(order)))
    for i, s in enumerate(order):
        for _, r in ctg[ctg.siren_epci == s].iterrows():
            start, end = r.date_debut, r.date_fin + pd.Timedelta(days=1)
            ax.barh(i, (end - start).days, left=start, height=0.55, color=SKY, edgecolor=BLUE)
            ax.scatter(r.date_signature, i, marker="D", s=22, color=VERMILION, zorder=3)
    import matplotlib.dates as mdates
    import matplotlib.patches as mpatches

    first, last = ctg.date_debut.min().year, (ctg.date_fin.max() + pd.Timedelta(days=1)).year
    ax.xaxis.set_major_locator(mdates.YearLocator(1 if last - first <= 6 else 2))  # labels never run together
    ax.xaxis.set_minor_locator(mdates.YearLocator(1))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", which="minor", color="#F0F0F0")
    ax.axvline(pd.Timestamp(year, 12, 31), color="black", linewidth=1, linestyle="--")
    ax.text(pd.Timestamp(year, 12, 31), -0.75, f"31 déc. {year}", ha="center", va="bottom", fontsize=8,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    ax.set_yticks(range(len(order)), [names.get(s, s) for s in order])
    ax.set_ylim(len(order) - 0.4, -1.2)
    ax.grid(axis="y", visible=False)
    # the legend's swatches are built with the very colours drawn (an empty bar would take the cycle's colour)
    handles = [plt.Line2D([], [], marker="D", linestyle="none", markersize=6, color=VERMILION, label="signature"),
               mpatches.Patch(facecolor=SKY, edgecolor=BLUE, label="période de la convention")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def class_bounds(values, k: int = 5, step: float = 0.01) -> list[float]:
    """Inner limits of k classes at the quantiles of `values`, rounded to `step` (whole
    percentages by default), so that two maps can share them."""
    import numpy as np

    q = np.quantile(np.asarray(values, dtype=float), np.linspace(0, 1, k + 1)[1:-1])
    return sorted(set(float(round(x / step) * step) for x in q))


def _text_box(t, renderer):
    """The box of a label's text and its white background, without its leader line."""
    from matplotlib.text import Text

    box = Text.get_window_extent(t, renderer)
    patch = t.get_bbox_patch()
    return patch.get_window_extent(renderer) if patch is not None and patch.get_visible() else box


def _spread(wanted: list[float], heights: list[float], lo: float, hi: float, gap: float) -> list[float]:
    """Centres as close as possible to `wanted` (sorted from top to bottom, display units) such that
    boxes of `heights` never overlap and stay within [lo, hi]."""
    ys = list(wanted)
    for i in range(len(ys)):  # top to bottom: each box below the previous one
        top = hi - heights[i] / 2 if i == 0 else ys[i - 1] - heights[i - 1] / 2 - gap - heights[i] / 2
        ys[i] = min(ys[i], top)
    for i in reversed(range(len(ys))):  # bottom to top: nothing below the floor
        floor = lo + heights[i] / 2 if i == len(ys) - 1 else ys[i + 1] + heights[i + 1] / 2 + gap + heights[i] / 2
        ys[i] = max(ys[i], floor)
    return ys


def choropleth(gdf, column: str, legend_title: str, percent: bool = True, cmap: str = "Blues",
               missing_label: str = "donnée non disponible", outline=None, categorical: bool = False,
               colors: dict | None = None, names: str | None = None, bounds: list[float] | None = None,
               outline_names: str | None = None) -> plt.Figure:
    """A map of `gdf[column]` at the text width: quantile classes for numbers, fixed colours for
    categories; `names`: a column whose values label each area, in two columns beside the
    territory with leader lines (labels never overlap); `outline_names`: the same for the areas of
    `outline` (the EPCI drawn over a map of communes); the legend sits outside the territory
    (below it with labels, beside it without). `bounds`: inner class limits shared with another
    map (else quantiles of this one). The boxes drawn are recorded in `fig.rapport_boxes`
    (display units: labels, legend, territory, figure) so that tests can check the layout."""
    import textwrap

    import matplotlib.patches as mpatches
    import numpy as np

    xmin, ymin, xmax, ymax = gdf.total_bounds
    labelled, name_col = ((gdf, names) if names is not None else (outline, outline_names) if outline_names
                          else (None, None))
    ratio = (ymax - ymin) / (xmax - xmin) / 0.7  # about 1/cos(46°N): no distortion at this latitude
    # The map column: centred between two label columns, or on the left of the legend.
    map_w = WIDTH * (0.52 if labelled is not None else 0.58)
    map_h = min(map_w * ratio, 5.2)
    map_w = map_h / ratio
    legend_h = 0.95 if labelled is not None else 0.0  # title and three rows of two classes
    fig_h = map_h + legend_h + 0.1
    fig = plt.figure(figsize=(WIDTH, fig_h))
    left = (1 - map_w / WIDTH) / 2 if labelled is not None else 0.02
    ax = fig.add_axes((left, (legend_h + 0.05) / fig_h, map_w / WIDTH, map_h / fig_h))
    ax.set_axis_off()
    missing = gdf[gdf[column].isna()]
    if not missing.empty:
        missing.plot(ax=ax, color="white", edgecolor="#999999", hatch="///", linewidth=0.3)
    data = gdf[gdf[column].notna()]
    handles = []
    if categorical:
        for cat, color in (colors or {}).items():
            part = data[data[column] == cat]
            if not part.empty:
                part.plot(ax=ax, color=color, edgecolor="white", linewidth=0.6)
            handles.append(mpatches.Patch(facecolor=color, edgecolor="#666666", label=cat))
    else:
        if bounds is not None:
            edges = np.array([min(data[column].min(), bounds[0]) - 1e-9, *bounds,
                              max(data[column].max(), bounds[-1]) + 1e-9])
        else:
            k = min(5, max(2, data[column].nunique()))
            edges = np.unique(data[column].quantile(np.linspace(0, 1, k + 1)).to_numpy())
            edges[-1] = np.nextafter(edges[-1], np.inf)  # classes [a, b[: the maximum falls in the last one
        bins = pd.cut(data[column], bins=edges, right=False, include_lowest=True)
        cats = bins.cat.categories
        cm = plt.get_cmap(cmap)
        shades = [cm(0.2 + 0.75 * i / max(1, len(cats) - 1)) for i in range(len(cats))]
        decimals = 0
        while decimals < 2 and len({fmt.pourcent(e, decimals) if percent else fmt.nombre(e, decimals)
                                    for e in edges[1:-1]}) < len(edges) - 2:
            decimals += 1  # bounds that round alike get one more decimal
        show = (lambda v: fmt.pourcent(v, decimals)) if percent else (lambda v: fmt.nombre(v, decimals))
        for i, (cat, shade) in enumerate(zip(cats, shades)):
            part = data[bins == cat]
            part.plot(ax=ax, color=shade, edgecolor="white", linewidth=0.25)
            if i == 0:
                label = f"moins de {show(cat.right)}"
            elif i == len(cats) - 1:
                label = f"{show(cat.left)} ou plus"
            else:
                label = f"{show(cat.left)} à moins de {show(cat.right)}"
            handles.append(mpatches.Patch(facecolor=shade, edgecolor="#666666", label=label))
    if not missing.empty:
        handles.append(mpatches.Patch(facecolor="white", edgecolor="#999999", hatch="///", label=missing_label))
    if outline is not None:
        outline.boundary.plot(ax=ax, color="#333333", linewidth=0.8)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect(1 / 0.7, adjustable="datalim", anchor="C")
    title = legend_title.replace("\n", " ")
    if labelled is not None:
        legend = fig.legend(handles=handles, title=title, loc="lower center", bbox_to_anchor=(0.5, 0.01),
                            ncol=2 if len(handles) > 3 else len(handles), frameon=False, fontsize=8.5,
                            title_fontsize=9)
    else:
        legend = fig.legend(handles=handles, title=legend_title, loc="center left", frameon=False, fontsize=8.5,
                            title_fontsize=9, bbox_to_anchor=(left + map_w / WIDTH + 0.02, 0.5))
    legend._legend_box.align = "left"
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = []
    if labelled is not None:
        box = ax.get_window_extent(renderer)
        fbox = fig.bbox
        anchors = []
        for _, row in labelled.iterrows():
            p = row.geometry.representative_point()
            anchors.append((p.x, p.y, *ax.transData.transform((p.x, p.y)), str(row[name_col])))
        median_x = float(np.median([a[2] for a in anchors]))
        pad = 4.0  # display units between a column and the map
        for side in ("left", "right"):
            mine = [a for a in anchors if (a[2] <= median_x) == (side == "left")]
            mine.sort(key=lambda a: -a[3])
            texts = []
            for x, y, px, py, name in mine:
                t = ax.annotate("\n".join(textwrap.wrap(name, 22)), xy=(x, y), xycoords="data",
                                xytext=(0, 0), textcoords="axes fraction", fontsize=7, color="#111111",
                                ha="right" if side == "left" else "left", va="center", linespacing=1.05,
                                arrowprops={"arrowstyle": "-", "color": "#555555", "linewidth": 0.6,
                                            "shrinkA": 1, "shrinkB": 0},
                                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})
                texts.append(t)
            fig.canvas.draw()  # the label backgrounds get their size
            heights = [_text_box(t, renderer).height for t in texts]
            ys = _spread([a[3] for a in mine], heights, box.y0, min(box.y1, fbox.y1 - 2), gap=3.0)
            x_text = box.x0 - pad if side == "left" else box.x1 + pad
            for t, y in zip(texts, ys):
                # axes fraction (not figure): stays in place when savefig crops the figure
                t.set_position(tuple(ax.transAxes.inverted().transform((x_text, y))))
                labels.append(t)
            for x, y, px, py, _ in mine:
                ax.plot([x], [y], marker="o", markersize=1.8, color="#111111", zorder=5)
    fig.canvas.draw()
    tl = ax.transData.transform([(xmin, ymin), (xmax, ymax)])
    from matplotlib.transforms import Bbox

    fig.rapport_boxes = {
        "labels": [_text_box(t, renderer) for t in labels],
        "legend": legend.get_window_extent(renderer),
        "territory": Bbox(tl),
        "figure": fig.bbox,
    }
    return fig
