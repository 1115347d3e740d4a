"""Illustrative data carry their mark inside the chart image itself, so that it survives a copy."""
import base64
import io
import re

import matplotlib.pyplot as plt
from PIL import Image

from helpers import lineage
from helpers.report import page as page_mod

READ = lineage.Lu("cafdata", "Cnaf, Cafdata", "s_ben_com_f", 2023)


def _png(html: str) -> Image.Image:
    data = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def _figure_html(monkeypatch, illustratif: bool) -> str:
    shown = []
    monkeypatch.setattr(page_mod.Page, "_show", lambda self, markup: shown.append(markup))
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.bar([1, 2], [3, 4])
    page_mod.Page("test").figure(lineage.attach(fig, [READ]), id="fig-x", titre="Titre", alt="Texte", illustratif=illustratif)
    return shown[0]


def test_mark_is_drawn_in_the_image_and_said_in_caption_and_alt(monkeypatch):
    plain, marked = _figure_html(monkeypatch, False), _figure_html(monkeypatch, True)
    assert "marque-illustratif" in marked and "marque-illustratif" not in plain
    assert 'alt="Données illustratives. Texte"' in marked
    # the mark's dark red is present in the marked image only
    red = lambda im: sum(1 for px in im.getdata() if px[0] > 120 and px[1] < 60 and px[2] < 60)  # noqa: E731
    assert red(_png(marked)) > 50 and red(_png(plain)) == 0


def test_key_figures_carry_their_own_mark(monkeypatch):
    shown = []
    monkeypatch.setattr(page_mod.Page, "_show", lambda self, markup: shown.append(markup))
    page_mod.Page("test").chiffres_cles([("1", "réel", ""), ("2", "illustratif", "", True)])
    from bs4 import BeautifulSoup

    real, illus = BeautifulSoup(shown[0], "html.parser").select(".chiffre")
    assert real.select_one(".marque-illustratif") is None and illus.select_one(".marque-illustratif") is not None
