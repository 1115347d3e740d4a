"""The narrative in Markdown cells (issue 19, item 4): a Markdown cell with MyST expressions
(« {eval}`v.foyers` ») is filled at build time with the values of the cells above it, escaped, marked
illustrative when one of them is; the report's sentence is edited in the notebook's Markdown."""
import json
from pathlib import Path

import nbformat
import pytest

from helpers import lineage
from helpers.narration import executable, expressions_to_code
from helpers.report.page import Page

ROOT = Path(__file__).resolve().parents[1]


def _render(source: str, namespace: dict) -> str:
    out = []
    page = Page("essai")
    page._show = out.append  # the HTML the cell would display
    page.markdown(source, namespace)
    return "".join(out)


def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_only_markdown_cells_with_expressions_become_code():
    nb = _notebook(nbformat.v4.new_markdown_cell("## Titre sans expression", id="a"),
                   nbformat.v4.new_markdown_cell("Il y a {eval}`v.foyers` foyers.", id="b"),
                   nbformat.v4.new_code_cell("x = 1", id="c"))
    out = expressions_to_code(nb)
    assert [c.cell_type for c in out.cells] == ["markdown", "code", "code"]
    assert out.cells[1].id == "b" and "narration" in out.cells[1].metadata.tags
    assert out.cells[1].metadata.rapport.markdown == "Il y a {eval}`v.foyers` foyers."
    assert nb.cells[1].cell_type == "markdown"  # the source notebook is left as it is


def test_a_conditional_markdown_cell_is_printed_only_when_its_condition_holds():
    out = expressions_to_code(_notebook(
        nbformat.v4.new_markdown_cell("<!-- si disponible -->\n## Les postes\n\n{eval}`v.n` postes.", id="a"),
        nbformat.v4.new_markdown_cell("<!--si disponible-->\nSans expression.", id="b"),
        nbformat.v4.new_markdown_cell("Toujours là, <!-- si jamais --> en cours de phrase.", id="c")))
    assert [c.cell_type for c in out.cells] == ["code", "code", "markdown"]  # a comment inside a cell: not a condition
    for disponible in (True, False):
        shown: list[str] = []
        page = Page("essai")
        page._show = shown.append
        namespace = {"page": page, "disponible": disponible, "v": lineage.Valeurs({"n": "3"})}
        for cell in out.cells[:2]:
            exec(cell.source, namespace)  # noqa: S102 (what the kernel runs)
        html = "".join(shown)
        if disponible:
            assert "Les postes</h2>" in html and "3 postes." in html and "Sans expression." in html
            assert "si disponible" not in html and "<!--" not in html
        else:
            assert html == ""


def test_a_conditional_cell_is_executed_so_its_edit_is_not_plain_prose(tmp_path):
    from helpers.narration import code_digest

    def digest(text: str) -> str:
        nbformat.write(_notebook(nbformat.v4.new_markdown_cell(text, id="a")), tmp_path / "n.ipynb")
        return code_digest(tmp_path / "n.ipynb")

    assert digest("Une phrase.") == digest("Une autre phrase.")  # plain prose: outputs reused
    assert digest("<!-- si disponible -->\nUne phrase.") != digest("<!-- si disponible -->\nUne autre phrase.")


def test_values_are_escaped_braces_kept_and_illustrative_paragraphs_marked():
    illus = lineage.Valeur("12", [lineage.Lu("registre", "Caf", "registre des postes", illustratif=True)])
    v = lineage.Valeurs({"nom": "<b>CA</b> & co", "postes": illus, "n": 3})
    html = _render("Pour {eval}`v.nom` : {eval}`v.n` fois {x}.\n\n{eval}`v.postes` postes.", {"v": v})
    assert "&lt;b&gt;CA&lt;/b&gt; &amp; co" in html and "<b>CA</b>" not in html
    assert "3 fois {x}." in html
    first, second = html.split("</p>")[:2]
    assert "marque-illustratif" not in first and "marque-illustratif" in second


def test_a_wrong_expression_names_itself_in_french():
    with pytest.raises(NameError, match="expression « v.inconnue » d’une cellule Markdown"):
        _render("{eval}`v.inconnue`", {"v": lineage.Valeurs({"foyers": "1"})})


def test_values_show_without_quotes_in_jupyterlab():
    from IPython.lib.pretty import pretty

    v = lineage.Valeurs({"foyers": "122 955"})
    assert pretty(v.foyers) == "122 955" and v["foyers"] == "122 955"


@pytest.mark.parametrize("notebook, sentence", [
    ("01_portrait", "comptait **{eval}`v.foyers` foyers allocataires**"),
    ("02_ctg", "la démarche est déployée sur **{eval}`v.epci_couverts` des {eval}`v.epci_total` EPCI**"),
    ("03_cooperation", "**{eval}`v.professionnels` professionnels**"),
    ("04_territoire", "soit **{eval}`v.personnes` personnes couvertes**"),
])
def test_each_chapter_s_main_sentence_lives_in_a_markdown_cell(notebook, sentence):
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    md = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert any(sentence in s for s in md)


def test_an_edited_markdown_cell_shows_in_the_executed_notebook(tmp_path):
    """Through papermill and a real kernel, as the build runs it."""
    from helpers.build import execute

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from helpers import lineage\nfrom helpers.report.page import Page\n"
                                  "page = Page('essai')\nv = lineage.Valeurs({'foyers': f'{x * 122955:,}'.replace(',', ' ')})"),
        nbformat.v4.new_markdown_cell("Une phrase modifiée : **{eval}`v.foyers` foyers**."),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    src = tmp_path / "essai.ipynb"
    nbformat.write(nb, src)
    dst = tmp_path / "sortie.ipynb"
    execute("essai", src, dst, {"x": 2})
    done = nbformat.read(dst, as_version=4)
    html = "".join(o.get("data", {}).get("text/html", "") for c in done.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "Une phrase modifiée : <strong>245 910 foyers</strong>." in html
    assert done.metadata.papermill.input_path == str(src)
    assert not list(tmp_path.glob("narration-*"))
    assert executable(src, tmp_path) != src  # a copy to execute, in the given folder
