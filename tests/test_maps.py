"""Maps that read: on every map the chapters build, no two labels overlap, no label runs off the
figure, and the legend never covers the territory (boxes recorded by charts.choropleth); a map's
image is no taller than charts.MAP_ASPECT of its width, so that two maps and their captions share
an A4 page instead of leaving half of one empty."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from helpers.chapters import ctg, portrait
from helpers.chapters.context import open_chapter
from helpers.report import charts

ROOT = Path(__file__).resolve().parents[1]


def _public_registers(tmp: Path) -> Path:
    """A copy of the CTG registers whose rows are all public (the CTG status map is never drawn
    from illustrative rows)."""
    folder = tmp / "registers" / "17"
    shutil.copytree(ROOT / "data" / "registers" / "17", folder)
    for f in folder.glob("*.csv"):
        lines = f.read_text(encoding="utf-8").splitlines()
        i = lines[0].split(";").index("source")
        rows = [r.split(";") for r in lines[1:]]
        f.write_text("\n".join([lines[0]] + [";".join(r[:i] + ["public : test"] + r[i + 1:]) for r in rows]) + "\n",
                     encoding="utf-8")
    return folder.parent


@pytest.fixture(scope="module")
def maps(tmp_path_factory) -> dict:
    p = open_chapter("portrait", 2023)
    c = open_chapter("ctg", 2023)
    c_public = open_chapter("ctg", 2023, overrides={"registers_dir": str(_public_registers(tmp_path_factory.mktemp("r")))})
    built = {"carte-epci": portrait.carte_epci(p), "carte-communes": portrait.carte_communes(p),
             "carte-petite-enfance": ctg.carte_petite_enfance(c), "carte-ctg": ctg.carte_statut(c_public)}
    yield {k: v[0] for k, v in built.items() if v is not None}
    for fig in plt.get_fignums():
        plt.close(fig)


def test_every_map_is_built(maps):
    assert set(maps) == {"carte-epci", "carte-communes", "carte-petite-enfance", "carte-ctg"}


@pytest.mark.parametrize("name", ["carte-epci", "carte-communes", "carte-petite-enfance", "carte-ctg"])
def test_labels_and_legend_never_collide(maps, name):
    boxes = maps[name].rapport_boxes
    labels, legend, territory, figure = boxes["labels"], boxes["legend"], boxes["territory"], boxes["figure"]
    assert len(labels) >= 10, "every EPCI is named on the map"
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert not a.overlaps(b), f"{name} : deux étiquettes se chevauchent ({a.bounds}, {b.bounds})"
        assert not a.overlaps(legend), f"{name} : une étiquette couvre la légende"
        assert figure.x0 <= a.x0 and a.x1 <= figure.x1 and figure.y0 <= a.y0 and a.y1 <= figure.y1, \
            f"{name} : une étiquette sort de la figure"
    assert not legend.overlaps(territory), f"{name} : la légende couvre le territoire"
    assert figure.x0 <= legend.x0 and legend.x1 <= figure.x1 and figure.y0 <= legend.y0


@pytest.mark.parametrize("name", ["carte-epci", "carte-communes", "carte-petite-enfance", "carte-ctg"])
def test_map_fills_the_text_width(maps, name):
    """The labels or the legend use the width beside the territory: no narrow map in a wide box."""
    boxes = maps[name].rapport_boxes
    drawn = [boxes["territory"], boxes["legend"], *boxes["labels"]]
    left, right = min(b.x0 for b in drawn), max(b.x1 for b in drawn)
    assert right - left >= 0.85 * boxes["figure"].width


@pytest.mark.parametrize("name", ["carte-epci", "carte-communes", "carte-petite-enfance", "carte-ctg"])
def test_map_image_is_no_taller_than_its_share_of_a_page(maps, name):
    """As page.figure saves it (cropped to what is drawn), then shown at the text width (17 cm): at
    most MAP_ASPECT high, about 10 cm, so that fig. 5 and fig. 6 and their captions fill one page."""
    buf = io.BytesIO()
    maps[name].savefig(buf, format="png", dpi=100, bbox_inches="tight")
    width, height = Image.open(buf).size
    assert height / width <= charts.MAP_ASPECT + 0.02, f"{name} : {height / width:.2f} de haut pour 1 de large"


def _in_class(n: int, lo, hi) -> bool:
    return (lo is None or n >= lo) and (hi is None or n <= hi)


def test_areas_are_classed_on_the_values_as_printed():
    """A value printed « 33 % » is never coloured in a class that says « 34 % ou plus », even when its
    unrounded value straddles a quantile; each class spans at least one printed unit."""
    import geopandas as gpd
    from shapely.geometry import box

    values = [0.3349, 0.3351, 0.3449, 0.40, 0.4449, 0.4451, 0.50, 0.2, 0.61, 0.33]
    g = gpd.GeoDataFrame({"v": values}, geometry=[box(i, 0, i + 1, 1) for i in range(len(values))])
    fig = charts.choropleth(g, "v", "Part")
    labels = [c[2] for c in fig.rapport_classes]
    assert len(set(labels)) == len(labels)
    for lo, hi, _, rows in fig.rapport_classes:
        assert lo is None or hi is None or hi >= lo
        for r in rows:
            assert _in_class(round(100 * values[r]), lo, hi), (values[r], lo, hi)
    assert sorted(r for c in fig.rapport_classes for r in c[3]) == list(range(len(values)))
    plt.close(fig)


def test_childcare_map_legend_agrees_with_its_table(maps):
    """Every EPCI's colour on the childcare map is the class of the rate its table prints (tenths)."""
    c = open_chapter("ctg", 2023)
    table, _ = ctg.tableau_petite_enfance(c)
    printed = {}
    for _, row in table.iterrows():
        cell = str(row.iloc[1]).replace("\u202f", "").replace(",", ".")
        if cell.replace(".", "").isdigit():
            printed[row.iloc[0]] = round(float(cell) * 10)
    g = c.epci_outlines(ctg._petite_enfance(c)[["siren", "nom", "txcouv"]])
    fig = maps["carte-petite-enfance"]
    checked = 0
    for lo, hi, _, rows in fig.rapport_classes:
        for r in rows:
            name = g.loc[r, "nom"]
            if name in printed:
                assert _in_class(printed[name], lo, hi), (name, printed[name], lo, hi)
                checked += 1
    assert checked >= 10
