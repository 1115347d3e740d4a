"""Phone-first charts: every chart and map has a narrow variant drawn for a phone's column, shown up to
760 px, the wide one on a desk and in the PDF. At 390 px no chart or map needs sideways scrolling and the
smallest text drawn in a chart stays at 11 CSS px or more; a wide table keeps its key column in view."""
from __future__ import annotations

import base64
import io
import re

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from helpers import cli, lineage
from helpers.chapters import ctg, portrait
from helpers.chapters.context import open_chapter
from helpers.report import charts
from helpers.report import page as page_mod

YEAR = 2023
PHONE, DESK = 390, 1280
COLUMN = 366  # CSS px of a chart at 390 px: the body's padding (0,9 rem of 10 pt) on each side
SMALLEST_PT = 7  # the smallest text drawn in any chart (map labels)
SMALLEST_PX = SMALLEST_PT / 72 * charts.DPI  # that text in the image's pixels
READ = lineage.Lu("cafdata", "Cnaf, Cafdata", "s_ben_com_f", 2023)


# --- the narrow variants, chart by chart ------------------------------------------------------------

@pytest.fixture(scope="module")
def figures():
    """Every chart of the département report, wide, as the chapters draw them."""
    p, c = open_chapter("portrait", YEAR), open_chapter("ctg", YEAR)
    made = {"evolution": portrait.figure_evolution(p), "prestations": portrait.prestations(p),
            "configuration": portrait.configuration(p), "af-cf": portrait.figure_af_cf(p),
            "carte-epci": portrait.carte_epci(p), "carte-communes": portrait.carte_communes(p),
            "frise": ctg.frise(c),
            "carte-petite-enfance": ctg.carte_petite_enfance(c)}
    out = {}
    for name, value in made.items():
        assert value is not None, name
        fig = value[0] if isinstance(value, tuple) else value
        assert isinstance(fig, plt.Figure), name
        out[name] = fig
    yield out
    plt.close("all")


def _saved(fig: plt.Figure) -> Image.Image:
    """The image as the page embeds it."""
    return Image.open(io.BytesIO(page_mod.png_bytes(fig)))


def _texts(fig: plt.Figure):
    return [t for t in fig.findobj(plt.Text) if t.get_visible() and t.get_text().strip()]


def test_every_chart_has_a_narrow_variant_readable_in_a_phone_column(figures):
    for name, fig in figures.items():
        assert callable(getattr(fig, "rapport_narrow", None)), f"{name} : pas de variante étroite"
        narrow = fig.rapport_narrow()
        assert narrow.get_figwidth() <= charts.NARROW + 1e-6, name
        assert not hasattr(narrow, "rapport_narrow"), f"{name} : la variante étroite n’en a pas elle-même"
        smallest = min(t.get_fontsize() for t in _texts(narrow))
        assert smallest >= SMALLEST_PT, f"{name} : texte de {smallest} pt"
        width = _saved(narrow).width
        shown = smallest / 72 * charts.DPI * COLUMN / width  # its smallest text, in CSS px, at 390 px
        assert shown >= 11, f"{name} : {width} px de large, texte de {shown:.1f} px à 390 px"
        # the illustrative mark (corner label, watermark) never widens the image
        page_mod.mark_figure(narrow)
        marked = _saved(narrow).width
        assert SMALLEST_PX * COLUMN / marked >= 11, f"{name} marqué : {marked} px de large à 390 px"
        wide = _saved(fig).width
        assert wide > 1.6 * width, f"{name} : la variante large ({wide} px) n’est pas celle du PDF"
        plt.close(narrow)


def test_narrow_variant_draws_the_same_texts_and_marks(figures):
    """The phone reads what the PDF shows: every value and name of the wide chart is in the narrow one
    (wrapped lines joined)."""
    norm = lambda s: re.sub(r"\s+", " ", s).strip()  # noqa: E731
    for name, fig in figures.items():
        narrow = fig.rapport_narrow()
        wide_texts = {norm(t.get_text()) for t in _texts(fig)}
        narrow_texts = {norm(t.get_text()) for t in _texts(narrow)}
        tick_free = {t for t in wide_texts if not re.fullmatch(r"[\d\s\u202f\u00a0,%]+", t)}  # axes ticks may thin
        missing = {t for t in tick_free - narrow_texts if not any(t in n for n in narrow_texts)}
        assert not missing, f"{name} : absent de la variante étroite : {sorted(missing)[:5]}"
        plt.close(narrow)


def test_narrow_evolution_stacks_its_panels(figures):
    narrow = figures["evolution"].rapport_narrow()
    a, b = narrow.axes[:2]
    assert a.get_position().y0 > b.get_position().y1, "les deux panneaux sont l’un au-dessus de l’autre"
    plt.close(narrow)


def test_narrow_timeline_year_labels_never_run_together(figures):
    narrow = figures["frise"].rapport_narrow()
    narrow.canvas.draw()
    renderer = narrow.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in narrow.axes[0].get_xticklabels() if t.get_visible() and t.get_text()]
    assert len(boxes) >= 2
    for x, y in zip(boxes, boxes[1:]):
        assert y.x0 - x.x1 >= 4, "deux années de la frise se touchent"
    plt.close(narrow)


def test_narrow_map_labels_never_overlap_and_stay_inside(figures):
    for name in ("carte-epci", "carte-petite-enfance"):
        narrow = figures[name].rapport_narrow()
        boxes = narrow.rapport_boxes
        labels = boxes["labels"]
        assert labels, name
        for i, x in enumerate(labels):
            assert not x.overlaps(boxes["legend"]), f"{name} : un nom sur la légende"
            for y in labels[i + 1:]:
                assert not x.overlaps(y), f"{name} : deux noms se chevauchent"
        plt.close(narrow)


def test_page_serves_the_narrow_variant_to_phones_and_marks_both(monkeypatch):
    shown = []
    monkeypatch.setattr(page_mod.Page, "_show", lambda self, markup: shown.append(markup))
    fig = charts.barh(["CA de La Rochelle", "CC de l’Île de Ré"], [10, 20])
    page_mod.Page("test").figure(lineage.attach(fig, [READ]), id="fig-x", titre="Titre", alt="Texte", illustratif=True)
    markup = shown[0]
    source = re.search(r'<source media="\(max-width: 760px\)" srcset="data:image/png;base64,([^"]+)"', markup)
    wide = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="Données illustratives. Texte"', markup)
    assert source and wide
    images = [Image.open(io.BytesIO(base64.b64decode(m.group(1)))).convert("RGB") for m in (source, wide)]
    assert images[0].width < images[1].width
    red = lambda im: sum(1 for px in im.getdata() if px[0] > 120 and px[1] < 60 and px[2] < 60)  # noqa: E731
    assert all(red(im) > 50 for im in images), "la marque « Données illustratives » est dans les deux images"


# --- in Chromium at 390 and 1280 px -----------------------------------------------------------------

# Every chart and map: its box, its image's scale against its natural width, the source shown; every element
# wider than the viewport; every scrolling box (figure or table) and whether its key column stays in view.
LAYOUT_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const charts = [...document.querySelectorAll('figure.figure')].map((f) => {
    const img = f.querySelector('img');
    const r = img.getBoundingClientRect(), fr = f.getBoundingClientRect();
    return { id: f.id, left: r.left, right: r.right, figLeft: fr.left, figRight: fr.right,
             scroll: f.scrollWidth - f.clientWidth, scale: img.naturalWidth ? r.width / img.naturalWidth : 0,
             natural: img.naturalWidth, narrow: (img.currentSrc || '') !== img.getAttribute('src') };
  });
  const wide = [...document.body.querySelectorAll('*')].filter((el) => {
    const r = el.getBoundingClientRect();
    if (!r.width || getComputedStyle(el).position === 'fixed') return false;
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (p.matches('figure.tableau, .defilement')) return false;  /* a wide table scrolls in its own box */
    }
    return r.right > vw + 1 || r.left < -1;
  }).slice(0, 10).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`);
  const tables = [...document.querySelectorAll('figure.tableau')].map((f) => {
    const key = f.querySelector('tbody th');
    let keyVisible = null;
    if (key && f.scrollWidth > f.clientWidth) {
      f.scrollLeft = f.scrollWidth;
      const k = key.getBoundingClientRect(), b = f.getBoundingClientRect();
      keyVisible = k.left >= b.left - 1 && k.right <= b.right + 1;
      f.scrollLeft = 0;
    }
    return { id: f.id, scrolls: f.scrollWidth > f.clientWidth, keyVisible };
  });
  return { vw, scrollWidth: document.documentElement.scrollWidth, charts, wide, tables };
}"""


SETTLED_JS = """() => [...document.images].every((i) => {
  const pic = i.parentElement && i.parentElement.tagName === 'PICTURE' ? i.parentElement : null;
  const source = pic ? [...pic.querySelectorAll('source')].find((x) => !x.media || matchMedia(x.media).matches) : null;
  const want = new URL(source ? source.srcset.trim().split(/\\s+/)[0] : i.getAttribute('src'), document.baseURI).href;
  return i.complete && i.naturalWidth > 0 && i.currentSrc === want;
})"""


def _portraits(root) -> list:
    return sorted(p for p in root.glob("*.html") if p.name != "index.html")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The département report's pages and two EPCI portraits, built once (HTML), each measured in Chromium at
    390 and 1280 px: file name -> width -> layout."""
    from headless import chromium

    tmp = tmp_path_factory.mktemp("telephone")
    out = tmp / str(YEAR)
    assert cli.main(["-q", "build", "--year", str(YEAR), "--out", str(out), "--formats", "html"]) == 0
    terr = tmp / "territoires"
    assert cli.main(["-q", "territoires", "--year", str(YEAR), "--epci", "241700434,200041762",
                     "--out", str(terr)]) == 0
    files = [out / f"rapport-{YEAR}{s}.html" for s in ("", "-portrait", "-ctg", "-cooperation")]
    files += _portraits(terr)
    assert len(files) == 6, files
    result = {}
    with chromium(["--host-resolver-rules=MAP * ~NOTFOUND"], offline=True) as context:
        page = context.new_page()
        for f in files:
            page.goto(f.resolve().as_uri(), wait_until="load")
            result[f.name] = {}
            for width in (PHONE, DESK):
                page.set_viewport_size({"width": width, "height": 900})
                # after a resize, a <picture> chooses its source again, asynchronously: wait until every image
                # shows the source its media queries select (the old one is still "complete" meanwhile)
                page.wait_for_function(SETTLED_JS)
                result[f.name][width] = page.evaluate(LAYOUT_JS)
    return result


@pytest.mark.e2e
def test_no_chart_or_map_scrolls_sideways_on_a_phone(pages):
    # the checks below are not vacuous: the pages do hold charts (a chapter may have none: the cooperation
    # chapter draws no ranking from illustrative rows)
    assert sum(len(layouts[PHONE]["charts"]) for layouts in pages.values()) >= 8
    for name, layouts in pages.items():
        lay = layouts[PHONE]
        assert lay["scrollWidth"] <= lay["vw"] and not lay["wide"], f"{name} déborde à 390 px : {lay['wide']}"
        for c in lay["charts"]:
            assert c["narrow"], f"{name} {c['id']} : la variante étroite n’est pas affichée à 390 px"
            assert c["scroll"] <= 0, f"{name} {c['id']} : défilement horizontal de {c['scroll']} px"
            assert c["left"] >= 0 and c["right"] <= lay["vw"], f"{name} {c['id']} : sort de l’écran"


@pytest.mark.e2e
def test_chart_text_is_11_px_or_more_on_a_phone(pages):
    for name, layouts in pages.items():
        for c in layouts[PHONE]["charts"]:
            px = SMALLEST_PX * c["scale"]
            assert px >= 11, f"{name} {c['id']} : texte de {px:.1f} px à 390 px ({c['natural']} px affichés à " \
                             f"{c['scale']:.2f})"


@pytest.mark.e2e
def test_desk_shows_the_wide_variant(pages):
    for name, layouts in pages.items():
        lay = layouts[DESK]
        for c in lay["charts"]:
            assert not c["narrow"], f"{name} {c['id']} : variante étroite à 1280 px"
            assert c["scroll"] <= 0 and SMALLEST_PX * c["scale"] >= 11, f"{name} {c['id']} à 1280 px : {c}"


@pytest.mark.e2e
def test_wide_table_keeps_its_key_column_in_view_on_a_phone(pages):
    scrolling = 0
    for name, layouts in pages.items():
        for t in layouts[PHONE]["tables"]:
            if t["keyVisible"] is not None:
                scrolling += 1
                assert t["keyVisible"], f"{name} {t['id']} : la colonne des libellés sort de l’écran"
    assert scrolling, "aucun tableau large à 390 px : le test ne vérifie rien"
