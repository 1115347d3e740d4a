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


def evolution(df: pd.DataFrame, year: int) -> plt.Figure:
    """Foyers allocataires and personnes couvertes by December, with the report's year marked.
    The vertical axes do not start at zero (said on the chart)."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 2.8), sharex=True)
    for ax, col, title, color in ((axes[0], "foyers", "Foyers allocataires", BLUE),
                                  (axes[1], "personnes", "Personnes couvertes", ORANGE)):
        ax.plot(df.annee, df[col], marker="o", color=color, linewidth=2, markersize=4)
        cur = df[df.annee == year]
        lo, hi = df[col].min(), df[col].max()
        pad = (hi - lo) * 0.35 + 1
        ax.set_ylim(lo - pad, hi + pad * 1.6)
        if not cur.empty:
            ax.scatter(cur.annee, cur[col], s=60, color=color, zorder=3, edgecolor="black")
            ax.annotate(fmt.nombre(cur[col].iloc[0]), (cur.annee.iloc[0], cur[col].iloc[0]),
                        xytext=(cur.annee.iloc[0], hi + pad * 0.9), ha="center", fontsize=8.5, fontweight="bold",
                        arrowprops={"arrowstyle": "-", "color": "#777777", "linewidth": 0.8})
        ax.set_title(title)
        _fr_axis(ax)
        ax.set_xticks(df.annee)
        ax.set_xlim(df.annee.min() - 0.5, df.annee.max() + 0.5)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{int(v)}"))
        if len(df) > 6:
            for label in ax.get_xticklabels()[1::2]:
                label.set_visible(False)
    fig.text(0.01, 0.0, "Axes verticaux ne partant pas de zéro.", fontsize=7.5, color="#555555", ha="left",
             va="bottom")
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

    ax.xaxis.set_major_locator(mdates.YearLocator(1))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.tick_params(axis="x", labelsize=8)
    ax.axvline(pd.Timestamp(year, 12, 31), color="black", linewidth=1, linestyle="--")
    ax.text(pd.Timestamp(year, 12, 31), -0.75, f"31 déc. {year}", ha="center", va="bottom", fontsize=8,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    ax.set_yticks(range(len(order)), [names.get(s, s) for s in order])
    ax.set_ylim(len(order) - 0.4, -1.2)
    ax.grid(axis="y", visible=False)
    ax.scatter([], [], marker="D", color=VERMILION, label="signature")
    ax.barh([], [], color=SKY, edgecolor=BLUE, label="période de la convention")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def class_bounds(values, k: int = 5, step: float = 0.01) -> list[float]:
    """Inner limits of k classes at the quantiles of `values`, rounded to `step` (whole
    percentages by default), so that two maps can share them."""
    import numpy as np

    q = np.quantile(np.asarray(values, dtype=float), np.linspace(0, 1, k + 1)[1:-1])
    return sorted(set(float(round(x / step) * step) for x in q))


def choropleth(gdf, column: str, legend_title: str, percent: bool = True, cmap: str = "Blues",
               missing_label: str = "donnée non disponible", outline=None, categorical: bool = False,
               colors: dict | None = None, names: str | None = None, bounds: list[float] | None = None) -> plt.Figure:
    """A map of `gdf[column]`: quantile classes for numbers, fixed colours for categories;
    `names`: a column whose values are written on each area; `bounds`: inner class limits
    shared with another map (else quantiles of this one)."""
    import textwrap

    import matplotlib.patches as mpatches

    fig, ax = plt.subplots(figsize=(WIDTH, 5.0))
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
        import numpy as np

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
    if names is not None:
        for _, row in gdf.iterrows():
            p = row.geometry.representative_point()
            ax.text(p.x, p.y, "\n".join(textwrap.wrap(str(row[names]), 16)), ha="center", va="center",
                    fontsize=6.3, color="#111111",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.75})
    ax.legend(handles=handles, title=legend_title, loc="lower left", frameon=True, fontsize=8.5, title_fontsize=9)
    ax.set_aspect(1 / 0.7)  # about 1/cos(46°N): no distortion at the latitude of the département
    fig.tight_layout()
    return fig
