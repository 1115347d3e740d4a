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
# inches: the narrow variant of each chart, shown on a phone (a 366 CSS px column at 390 px): its smallest
# text (7 pt) stays at 11 px or more (7 / 72 * 366 / 3.15 = 11.3)
NARROW = 3.15


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


def _with_narrow(fig: plt.Figure, draw, *args, **kwargs) -> plt.Figure:
    """Record on `fig` how to draw the same chart for a phone (`fig.rapport_narrow()`): the report
    shows that variant on narrow screens and the wide one on a desk and in the PDF."""
    fig.rapport_narrow = lambda: draw(*args, **kwargs, width=NARROW)
    return fig


def _wrap(label, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(label), width, break_long_words=False, break_on_hyphens=False)) or str(label)


def _fr_axis(ax, axis: str = "y", decimals: int = 0, percent: bool = False) -> None:
    f = (lambda v, _: fmt.pourcent(v, decimals)) if percent else (lambda v, _: fmt.nombre(v, decimals))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(mticker.FuncFormatter(f))


EVOLUTION_SPAN = 0.10  # share of the mean value that the full height of each panel shows, at least


def evolution_span(df: pd.DataFrame, cols=("foyers", "personnes")) -> float:
    """The relative span shared by the panels of `evolution`: the whole height of each panel is this
    share of its mean value, so that one percent looks the same on both and a small change stays small."""
    rel = max(((df[c].max() - df[c].min()) / df[c].mean()) for c in cols)
    return max(EVOLUTION_SPAN, round(rel * 1.6 + 0.005, 2))


def evolution(df: pd.DataFrame, year: int, width: float = WIDTH) -> plt.Figure:
    """Foyers allocataires and personnes couvertes by December, with the report's year marked.
    The vertical axes are cut (the values are far from zero) at the same relative scale: each
    panel's height is the same share of its mean value (said on the chart). Narrow: one panel
    above the other."""
    span = evolution_span(df)
    narrow = width < WIDTH
    fig, axes = plt.subplots(2 if narrow else 1, 1 if narrow else 2, figsize=(width, 5.0 if narrow else 2.8),
                             sharex=True)
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
        if len(df) > (4 if narrow else 6):
            for label in ax.get_xticklabels()[1::2]:
                label.set_visible(False)
        if narrow:
            ax.tick_params(axis="x", labelbottom=True)
    note = (f"Axes verticaux coupés, à la même échelle : la hauteur de chaque graphique représente "
            f"{fmt.pourcent(span)} de sa valeur moyenne.")
    fig.text(0.01, 0.0, _wrap(note, 50) if narrow else note, fontsize=7.5, color="#555555", ha="left",
             va="bottom")
    fig.tight_layout(rect=(0, 0.07 if narrow else 0.04, 1, 1))
    return fig if narrow else _with_narrow(fig, evolution, df, year)


def index_panels(df: pd.DataFrame, names: dict[str, str], order: list[str], titles: dict[str, str],
                 base_year: int, width: float = WIDTH) -> plt.Figure:
    """One panel per benefit, one line per territory, as an index (base_year = 100): the
    territories are compared on the same scale whatever their size. Narrow: the panels one above
    the other, the legend in one column below."""
    benefits = list(dict.fromkeys(df.prestation))
    narrow = width < WIDTH
    n = len(benefits)
    height = 1.9 * n + 0.25 * len(order) + 0.3 if narrow else 3.0
    fig, axes = plt.subplots(n if narrow else 1, 1 if narrow else n, figsize=(width, height), sharey=True)
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
    for ax in axes if narrow else axes[:1]:
        ax.set_ylabel(f"indice, base 100 en {base_year}")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=1 if narrow else len(labels), frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, (0.22 * len(labels) + 0.1) / height if narrow else 0.09, 1, 1))
    return fig if narrow else _with_narrow(fig, index_panels, df, names, order, titles, base_year)


def barh(labels, values, value_fmt=fmt.nombre, color=BLUE, highlight=None, xlabel: str = "",
         height_per_bar: float = 0.32, percent: bool = False, axis_decimals: int = 0,
         width: float = WIDTH) -> plt.Figure:
    """Horizontal bars sorted as given, with the value printed at the end of each bar. Narrow: the
    labels wrapped, the bars taller for their lines."""
    labels, values = list(labels), list(values)
    narrow = width < WIDTH
    shown = [_wrap(lab, 16) for lab in labels] if narrow else labels
    lines = max((s.count("\n") + 1 for s in shown), default=1)
    per_bar = max(height_per_bar, 0.16 * lines + 0.08) if narrow else height_per_bar
    fig, ax = plt.subplots(figsize=(width, 0.6 + per_bar * len(labels)))
    colors = [VERMILION if highlight is not None and lab in highlight else color for lab in labels]
    ax.barh(range(len(labels)), values, color=colors)
    ax.set_yticks(range(len(labels)), shown)
    ax.invert_yaxis()
    vmax = max(values) if values else 1
    for i, v in enumerate(values):
        ax.text(v + vmax * 0.01, i, value_fmt(v), va="center", fontsize=8.5)
    ax.set_xlim(0, vmax * (1.3 if narrow else 1.15))
    ax.xaxis.set_major_locator(mticker.MaxNLocator(3 if narrow else 5))
    _fr_axis(ax, "x", decimals=axis_decimals, percent=percent)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig if narrow else _with_narrow(fig, barh, labels, values, value_fmt=value_fmt, color=color,
                                           highlight=highlight, xlabel=xlabel, height_per_bar=height_per_bar,
                                           percent=percent, axis_decimals=axis_decimals)


FAMILY_LABELS = {"isolé": "Personne seule", "couple": "Couple", "monoparent": "Famille monoparentale"}


def stacked_family(table: pd.DataFrame, width: float = WIDTH) -> plt.Figure:
    """Shares of foyers by family configuration, stacked by number of children, totals at the end.
    Narrow: the names wrapped, the legend in two columns."""
    narrow = width < WIDTH
    fig, ax = plt.subplots(figsize=(width, 3.0 if narrow else 2.5))
    names = [FAMILY_LABELS.get(i, i) for i in table.index]
    if narrow:
        names = [_wrap(n, 12) for n in names]
    left = pd.Series(0.0, index=table.index)
    labels = {"0": "sans enfant", "1": "1 enfant", "2": "2 enfants", "3+": "3 enfants ou plus"}
    colors = {"0": ORANGE, "1": SKY, "2": BLUE, "3+": "#003F66"}
    for col in table.columns:
        ax.barh(names, table[col], left=left.values, color=colors.get(col, GREY), label=labels.get(col, col),
                edgecolor="white")
        left += table[col]
    for i, total in enumerate(left):
        ax.text(total + left.max() * 0.01, i, fmt.pourcent(total), va="center", fontsize=8.5)
    ax.set_xlim(0, left.max() * (1.3 if narrow else 1.15))
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(mticker.MaxNLocator(3 if narrow else 5))
    _fr_axis(ax, "x", percent=True)
    ax.set_xlabel("part des foyers allocataires")
    # narrow: the legend hangs from the axes' right end (centred on the axes, which the names push right,
    # it would stick out of the figure and widen the image)
    ax.legend(ncol=2 if narrow else 4, loc="upper right" if narrow else "upper center",
              bbox_to_anchor=(1.0 if narrow else 0.5, -0.3), frameon=False)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig if narrow else _with_narrow(fig, stacked_family, table)


def timeline(ctg: pd.DataFrame, names: dict[str, str], year: int, width: float = WIDTH) -> plt.Figure:
    """Convention periods by EPCI (bars) and signature dates (diamonds). Narrow: the names wrapped,
    fewer year labels."""
    narrow = width < WIDTH
    order = sorted(ctg.siren_epci.unique(), key=lambda s: (ctg[ctg.siren_epci == s].date_signature.min(), names.get(s, s)))
    shown = [_wrap(names.get(s, s), 16) if narrow else names.get(s, s) for s in order]
    lines = max((s.count("\n") + 1 for s in shown), default=1)
    fig, ax = plt.subplots(figsize=(width, 0.55 + (0.16 * lines + 0.14 if narrow else 0.3) * len(order)))
    for i, s in enumerate(order):
        for _, r in ctg[ctg.siren_epci == s].iterrows():
            start, end = r.date_debut, r.date_fin + pd.Timedelta(days=1)
            ax.barh(i, (end - start).days, left=start, height=0.55, color=SKY, edgecolor=BLUE)
            ax.scatter(r.date_signature, i, marker="D", s=22, color=VERMILION, zorder=3)
    import matplotlib.dates as mdates
    import matplotlib.patches as mpatches

    first, last = ctg.date_debut.min().year, (ctg.date_fin.max() + pd.Timedelta(days=1)).year
    step = (1 if last - first <= 3 else 2 if last - first <= 8 else 4) if narrow else 1 if last - first <= 6 else 2
    ax.xaxis.set_major_locator(mdates.YearLocator(step))  # labels never run together
    ax.xaxis.set_minor_locator(mdates.YearLocator(1))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", which="minor", color="#F0F0F0")
    ax.axvline(pd.Timestamp(year, 12, 31), color="black", linewidth=1, linestyle="--")
    ax.text(pd.Timestamp(year, 12, 31), -0.75, f"31 déc. {year}", ha="center", va="bottom", fontsize=8,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    ax.set_yticks(range(len(order)), shown)
    ax.set_ylim(len(order) - 0.4, -1.2)
    ax.grid(axis="y", visible=False)
    # the legend's swatches are built with the very colours drawn (an empty bar would take the cycle's colour)
    handles = [plt.Line2D([], [], marker="D", linestyle="none", markersize=6, color=VERMILION, label="signature"),
               mpatches.Patch(facecolor=SKY, edgecolor=BLUE, label="période de la convention")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=1 if narrow else 2,
              frameon=False)
    fig.tight_layout()
    return fig if narrow else _with_narrow(fig, timeline, ctg, names, year)


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


MAP_ASPECT = 0.6  # height / width of a labelled map's image: two maps and their captions fill an A4 page
MAP_MAX_HEIGHT = 5.2  # inches


def _legend(fig, handles, title: str, ncol: int, narrow: bool = False, wrap: int = 26, **where):
    """The map's legend; `narrow`: one column whose title and long entries are wrapped (the foot of
    a label column)."""
    import textwrap

    labels = [h.get_label() for h in handles]
    if narrow:
        title = title if "\n" in title else textwrap.fill(title, wrap - 2)
        labels = [textwrap.fill(label, wrap) for label in labels]
    legend = fig.legend(handles=handles, labels=labels, title=title, ncol=ncol, frameon=False, fontsize=8.5,
                        title_fontsize=9, **where)
    legend._legend_box.align = "left"
    return legend


def _label_layout(fig, labels: list[tuple[str, float, float]], sizes: dict[str, tuple[float, float]],
                  legend_size: tuple[float, float], ratio: float, median_x: float,
                  width: float = WIDTH) -> dict:
    """Where a labelled map, its two label columns and its legend go (inches), for an image of
    MAP_ASPECT (the figure is cropped to what is drawn, then shown at the text width): the map
    between the columns, the legend at the foot of the column whose lowest label is highest,
    with the labels of that column above it; below the map if they do not fit there. `labels`:
    (name, x, y) of each anchor, y as a share of the territory's height; `sizes`: width and height
    of each name's box; `median_x`: anchors at or left of it are labelled in the left column; `width`:
    the figure's largest width."""
    fig_width = width
    gap, margin, pad = 0.05, 0.05, 0.06  # between boxes; above and below; a label and the map
    sides = {"left": [lab for lab in labels if lab[1] <= median_x], "right": [lab for lab in labels if lab[1] > median_x]}
    width = {k: max((sizes[n][0] for n, _, _ in v), default=0.0) + pad for k, v in sides.items()}
    height = {k: sum(sizes[n][1] + gap for n, _, _ in v) for k, v in sides.items()}
    side = max(sides, key=lambda k: min((y for _, _, y in sides[k]), default=1.0))
    lw, lh = legend_size

    def solve(columns: float, extra_h: float) -> tuple[float, float]:
        # map width m: (ratio * m + extra_h) / (columns + m) = MAP_ASPECT, within the figure's width and height
        m = (MAP_ASPECT * columns - extra_h) / (ratio - MAP_ASPECT) if ratio > MAP_ASPECT else fig_width
        m = min(m, fig_width - columns, (MAP_MAX_HEIGHT - extra_h) / ratio)
        return m, ratio * m

    columns = width["left"] + width["right"] + max(0.0, lw - width[side])
    map_w, map_h = solve(columns, 2 * margin)
    if height[side] <= map_h - lh - gap:  # the legend in the corner of its column
        left = max(width["left"], lw if side == "left" else 0.0)
        right = max(width["right"], lw if side == "right" else 0.0)
        fig_w, fig_h = left + map_w + right, map_h + 2 * margin
        legend_at = (0.0, margin) if side == "left" else (fig_w - lw, margin)
        return {"size": (fig_w, fig_h), "map": (left, margin, map_w, map_h), "legend": legend_at,
                "legend_side": side, "floor": margin + lh + gap}
    map_w, map_h = solve(width["left"] + width["right"], lh + 3 * margin)  # the legend below the map
    map_w = min(max(map_w, 0.45 * fig_width), fig_width - width["left"] - width["right"])  # never a tiny map
    map_h = ratio * map_w
    fig_w = max(width["left"] + map_w + width["right"], lw)
    return {"size": (fig_w, map_h + lh + 3 * margin), "map": (width["left"], lh + 2 * margin, map_w, map_h),
            "legend": ((fig_w - lw) / 2, margin), "legend_side": None, "floor": lh + 2 * margin}


def choropleth(gdf, column: str, legend_title: str, percent: bool = True, cmap: str = "Blues",
               missing_label: str = "donnée non disponible", outline=None, categorical: bool = False,
               colors: dict | None = None, names: str | None = None, bounds: list[float] | None = None,
               outline_names: str | None = None, step: float | None = None, width: float = WIDTH) -> plt.Figure:
    """A map of `gdf[column]`: quantile classes for numbers, fixed colours for categories; `names`:
    a column whose values label each area, in two columns beside the territory with leader lines
    (labels never overlap); `outline_names`: the same for the areas of `outline` (the EPCI drawn
    over a map of communes). A labelled map is sized to its territory's shape so that its image
    is MAP_ASPECT high for its width, the legend at the foot of a label column (outside the
    territory); a map without labels has its legend beside it, at the text width. `bounds`: inner
    class limits shared with another map (else quantiles of this one); `step`: the precision the tables print
    the values with (0.01 for whole percentages, 0.1 for tenths by default), on which areas are classed. The boxes drawn are
    recorded in `fig.rapport_boxes` (display units: labels, legend, territory, figure) so that
    tests can check the layout. Narrow (`width` < WIDTH): names and legend wrapped shorter, a map
    without labels above its legend."""
    import textwrap

    import matplotlib.patches as mpatches
    import numpy as np
    from matplotlib.transforms import Bbox

    xmin, ymin, xmax, ymax = gdf.total_bounds
    labelled, name_col = ((gdf, names) if names is not None else (outline, outline_names) if outline_names
                          else (None, None))
    ratio = (ymax - ymin) / (xmax - xmin) / 0.7  # about 1/cos(46°N): no distortion at this latitude
    narrow = width < WIDTH
    wrap = 14 if narrow else 22  # a name's line, in characters
    if labelled is None and narrow:  # the map across the width, its legend below
        map_w = width * 0.96
        map_h = min(map_w * ratio, MAP_MAX_HEIGHT)
        map_w = map_h / ratio
        below = 1.6  # inches left for the legend, cropped when saved
        fig = plt.figure(figsize=(width, map_h + below))
        ax = fig.add_axes(((1 - map_w / width) / 2, below / (map_h + below), map_w / width, map_h / (map_h + below)))
    elif labelled is None:  # the map on the left, its legend beside it
        map_w = WIDTH * 0.58
        map_h = min(map_w * ratio, MAP_MAX_HEIGHT)
        map_w = map_h / ratio
        fig = plt.figure(figsize=(WIDTH, map_h + 0.1))
        ax = fig.add_axes((0.02, 0.05 / (map_h + 0.1), map_w / WIDTH, map_h / (map_h + 0.1)))
    else:  # placed once the labels and the legend are measured
        fig = plt.figure(figsize=(width, 0.4 * width * ratio / 0.9))  # a box of the territory's shape
        ax = fig.add_axes((0.3, 0.05, 0.4, 0.9))
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
        # Classes of the values as the tables print them (`step`: whole percentages, or tenths): an area's
        # colour always agrees with the figure shown beside it, and no class is narrower than that rounding.
        step = step if step is not None else (0.01 if percent else 0.1)
        scale = 100 if percent else 1
        decimals = max(0, round(-np.log10(step * scale)))

        def printed(v: float) -> int:  # a value as fmt prints it, in units of its last printed digit
            return int(round(round(scale * float(v), decimals) * 10 ** decimals))

        grid = data[column].map(printed).astype("int64")
        if bounds is not None:  # shared with another map: every limit kept, so both legends read alike
            inner = sorted({printed(b) for b in bounds})
        else:
            k = min(5, max(2, grid.nunique()))
            q = np.quantile(grid.to_numpy(dtype=float), np.linspace(0, 1, k + 1)[1:-1])
            inner = sorted({int(round(x)) for x in q if grid.min() < round(x) <= grid.max()})
            inner = [b for i, b in enumerate(inner)  # no empty class
                     if ((grid >= b) & (grid < (inner[i + 1] if i + 1 < len(inner) else grid.max() + 1))).any()]
        classes = np.searchsorted(np.asarray(inner), grid.to_numpy(), side="right")  # [a, b[ on the grid
        n_classes = len(inner) + 1
        cm = plt.get_cmap(cmap)
        shades = [cm(0.2 + 0.75 * i / max(1, n_classes - 1)) for i in range(n_classes)]
        show = (lambda n: f"{fmt.nombre(n / 10 ** decimals, decimals)}{fmt.NNBSP}%") if percent else \
            (lambda n: fmt.nombre(n / 10 ** decimals, decimals))
        fig.rapport_classes = []  # (lowest, highest printed value in grid units, label, row labels): for tests
        for i, shade in enumerate(shades):
            lo_i = inner[i - 1] if i > 0 else None
            hi_i = inner[i] - 1 if i < len(inner) else None
            part = data[classes == i]
            if not part.empty:
                part.plot(ax=ax, color=shade, edgecolor="white", linewidth=0.25)
            if len(inner) == 0:
                label = show(int(grid.min())) if grid.min() == grid.max() else \
                    f"{show(int(grid.min()))} à {show(int(grid.max()))}"
            elif lo_i is None:
                label = f"moins de {show(inner[0])}"
            elif hi_i is None:
                label = f"{show(lo_i)} ou plus"
            else:
                label = show(lo_i) if lo_i == hi_i else f"{show(lo_i)} à {show(hi_i)}"
            fig.rapport_classes.append((lo_i, hi_i, label, list(part.index)))
            handles.append(mpatches.Patch(facecolor=shade, edgecolor="#666666", label=label))
    if not missing.empty:
        handles.append(mpatches.Patch(facecolor="white", edgecolor="#999999", hatch="///", label=missing_label))
    if outline is not None:
        outline.boundary.plot(ax=ax, color="#333333", linewidth=0.8)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect(1 / 0.7, adjustable="datalim", anchor="C")
    renderer = fig.canvas.get_renderer()
    labels = []
    if labelled is None and narrow:
        legend = _legend(fig, handles, legend_title, 1, narrow=True, wrap=30, loc="upper center",
                         bbox_to_anchor=(0.5, (below - 0.05) / (map_h + below)))
    elif labelled is None:
        legend = _legend(fig, handles, legend_title, 1, loc="center left",
                         bbox_to_anchor=(0.02 + map_w / WIDTH + 0.02, 0.5))
    else:
        anchors = []
        for _, row in labelled.iterrows():
            pt = row.geometry.representative_point()
            anchors.append((pt.x, pt.y, "\n".join(textwrap.wrap(str(row[name_col]), wrap))))
        sizes = {}
        for *_, name in anchors:  # each name's box, at its final size (inches)
            t = fig.text(0, 0, name, fontsize=7, linespacing=1.05, bbox={"boxstyle": "square,pad=0.1"})
            t.draw(renderer)  # sizes its background; drawing the whole map for each name is not needed
            b = _text_box(t, renderer)
            sizes[name] = (b.width / fig.dpi, b.height / fig.dpi)
            t.remove()
        shares = [(name, x, (y - ymin) / (ymax - ymin)) for x, y, name in anchors]
        probe = _legend(fig, handles, legend_title, 1, narrow=True, wrap=18 if narrow else 26, loc="lower left")
        box = probe.get_window_extent(renderer)
        corner = (box.width / fig.dpi, box.height / fig.dpi)
        probe.remove()
        median_x = float(np.median([a[0] for a in anchors]))  # the left column: anchors at or left of it
        plan = _label_layout(fig, shares, sizes, corner, ratio, median_x, width=width)
        below_cols = 1 if narrow else 2 if len(handles) > 3 else len(handles)
        if plan["legend_side"] is None:  # below the map, in two columns (one when narrow)
            probe = _legend(fig, handles, legend_title.replace("\n", " ") if below_cols > 1 else legend_title,
                            below_cols, narrow=below_cols == 1, wrap=40, loc="lower left")
            box = probe.get_window_extent(renderer)
            probe.remove()
            plan = _label_layout(fig, shares, sizes, (box.width / fig.dpi, box.height / fig.dpi), ratio, median_x,
                                 width=width)
            plan["legend_side"] = None
        fig_w, fig_h = plan["size"]
        fig.set_size_inches(fig_w, fig_h)
        x, y, w, h = plan["map"]
        ax.set_position((x / fig_w, y / fig_h, w / fig_w, h / fig_h))
        ax.set_xlim(xmin, xmax)  # the measuring draws fitted the limits to the provisional box
        ax.set_ylim(ymin, ymax)
        ncol = 1 if plan["legend_side"] else below_cols
        lx, ly = plan["legend"]
        legend = _legend(fig, handles, legend_title if ncol == 1 else legend_title.replace("\n", " "), ncol,
                         narrow=ncol == 1, wrap=(18 if plan["legend_side"] else 40) if narrow else 26, loc="lower left", bbox_to_anchor=(lx / fig_w, ly / fig_h),
                         borderaxespad=0, borderpad=0)
        fig.canvas.draw()
        box = ax.get_window_extent(renderer)
        lbox = legend.get_window_extent(renderer)
        pad = 4.0  # display units between a column and the map
        for side in ("left", "right"):
            mine = [a for a in anchors if (a[0] <= median_x) == (side == "left")]
            mine.sort(key=lambda a: -a[1])
            texts = []
            for ax_x, ax_y, name in mine:
                t = ax.annotate(name, xy=(ax_x, ax_y), xycoords="data",
                                xytext=(0, 0), textcoords="axes fraction", fontsize=7, color="#111111",
                                ha="right" if side == "left" else "left", va="center", linespacing=1.05,
                                arrowprops={"arrowstyle": "-", "color": "#555555", "linewidth": 0.6,
                                            "shrinkA": 1, "shrinkB": 0},
                                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})
                texts.append(t)
            for t in texts:
                t.draw(renderer)  # the label backgrounds get their size
            heights = [_text_box(t, renderer).height for t in texts]
            floor = lbox.y1 + 4.0 if plan["legend_side"] == side else box.y0
            wanted = [ax.transData.transform((a[0], a[1]))[1] for a in mine]
            ys = _spread(wanted, heights, floor, min(box.y1, fig.bbox.y1 - 2), gap=3.0)
            x_text = box.x0 - pad if side == "left" else box.x1 + pad
            for t, y in zip(texts, ys):
                # axes fraction (not figure): stays in place when savefig crops the figure
                t.set_position(tuple(ax.transAxes.inverted().transform((x_text, y))))
                labels.append(t)
            for ax_x, ax_y, _ in mine:
                ax.plot([ax_x], [ax_y], marker="o", markersize=1.8, color="#111111", zorder=5)
    fig.canvas.draw()
    tl = ax.transData.transform([(xmin, ymin), (xmax, ymax)])
    fig.rapport_boxes = {
        "labels": [_text_box(t, renderer) for t in labels],
        "legend": legend.get_window_extent(renderer),
        "territory": Bbox(tl),
        "figure": fig.bbox,
    }
    return fig if narrow else _with_narrow(fig, choropleth, gdf, column, legend_title, percent=percent, cmap=cmap,
                                           missing_label=missing_label, outline=outline, categorical=categorical,
                                           colors=colors, names=names, bounds=bounds, outline_names=outline_names)
