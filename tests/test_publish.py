import matplotlib.pyplot as plt
import pandas as pd
import pytest

from helpers import lineage
from helpers.errors import RapportError
from helpers.report import page as pg
from helpers.report.assemble import Chapter, Meta, assemble

READ = lineage.Lu("cafdata", "Cnaf, Cafdata", "s_ben_com_f", 2023)


def shown(monkeypatch):
    out = []
    monkeypatch.setattr(pg.Page, "_show", lambda self, markup: out.append(markup))
    return out


@pytest.mark.parametrize("missing", ["titre", "source", "alt"])
def test_figure_without_caption_source_or_alt_fails_naming_it(monkeypatch, missing):
    shown(monkeypatch)
    fields = {"titre": "Titre", "alt": "Une barre de 3."}
    if missing in fields:
        fields[missing] = " "
    fig, ax = plt.subplots()
    if missing != "source":  # a figure whose reads are unknown has no source line
        lineage.attach(fig, [READ])
    with pytest.raises(pg.FigureError) as e:
        pg.Page("portrait").figure(fig, id="fig-essai", **fields)
    assert "« fig-essai »" in str(e.value) and missing in str(e.value)


def test_table_has_header_cells_caption_source_and_summary(monkeypatch):
    out = shown(monkeypatch)
    df = pd.DataFrame({"EPCI": ["CA A", "CC B"], "Foyers": ["1\u202f000", "500"]})
    pg.Page("portrait").tableau(lineage.attach(df, [READ]), id="tab-essai", titre="Essai", resume="Deux lignes.")
    html = out[0]
    assert '<th scope="col"' in html and '<th scope="row"' in html
    assert "<caption>" in html and "Source : Cnaf, Cafdata s_ben_com_f, décembre 2023 ; traitement Caf." in html and "Deux lignes." in html
    with pytest.raises(pg.FigureError):
        pg.Page("portrait").tableau(lineage.attach(df, [READ]), id="tab-2", titre="", resume="x")


def test_duplicate_id_in_chapter_fails(monkeypatch):
    shown(monkeypatch)
    p = pg.Page("ctg")
    df = pd.DataFrame({"a": ["1"]})
    p.tableau(lineage.attach(df, [READ]), id="tab-x", titre="t", resume="r")
    with pytest.raises(pg.FigureError):
        p.tableau(lineage.attach(df, [READ]), id="tab-x", titre="t", resume="r")


def test_text_values_are_filled_and_missing_ones_refused():
    assert "<strong>12</strong>" in pg.render_text("**{n}** Epci", {"n": "12"})
    with pytest.raises(RapportError):
        pg.render_text("{absent}", {})


def _fig(i):
    return (f'<figure class="figure" id="fig-{i}" data-kind="figure"><img src="data:image/png;base64,AA" alt="x"/>'
            f'<figcaption><span class="numero">Figure</span> t</figcaption></figure>')


def _tab(i):
    return (f'<figure class="tableau" id="tab-{i}" data-kind="tableau"><table><caption><span class="numero">Tableau'
            f'</span> t</caption><tr><th>a</th></tr></table></figure>')


def test_assembly_numbers_across_chapters_and_resolves_references():
    meta = Meta(2023, "Caf de test", "Portrait", "31 décembre 2023", False)
    a = Chapter("portrait", "Premier", "<h3 id='portrait-x'>X</h3>" + _fig(1) + _tab(1) + _fig(2), False)
    b = Chapter("ctg", "Second", "<p>Voir " + pg.ref("fig-2", "figure", "portrait") + "</p>" + _fig(3), True)
    full, pages = assemble(meta, [a, b], [("annexe-x", "Annexe", "<p>a</p>")])
    assert full.count("<h1") == 1
    assert "Figure 1\u00a0:" in full and "Figure 3\u00a0:" in full and "Tableau 1\u00a0:" in full
    assert '(voir la <a class="xref" data-kind="figure" href="#fig-2">figure 2</a>)' in full
    ctg_page = pages["rapport-2023-ctg.html"]
    assert 'href="rapport-2023-portrait.html#fig-2">figure 2</a>' in ctg_page
    assert "Figure 3\u00a0:" in ctg_page and ctg_page.count("<h1") == 1
    assert 'class="chapitre illustratif"' in full  # pages of illustrative chapters carry the notice


def test_unknown_reference_fails():
    meta = Meta(2023, "Caf de test", "Portrait", "31 décembre 2023", False)
    a = Chapter("portrait", "Premier", "<p>" + pg.ref("fig-absente", "figure", "portrait") + "</p>", False)
    with pytest.raises(RapportError) as e:
        assemble(meta, [a], [])
    assert "fig-absente" in str(e.value)
