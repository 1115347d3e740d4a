"""The report's narrative in Markdown cells. A Markdown cell of a chapter notebook may hold MyST inline
expressions, « {eval}`v.foyers` » (the syntax jupyterlab-myst renders in JupyterLab with the live kernel's
values). Papermill executes code cells only: before a build executes a notebook, each Markdown cell that
holds such an expression becomes a code cell that asks the page to render it (`page.markdown`), at the
same place, so that the sentence is filled with the values computed by the cells above it, escaped, and
marked illustrative when one of them is (their lineage). A Markdown cell without an expression stays as it
is (nbconvert renders it).

A Markdown cell that opens with « <!-- si EXPRESSION --> » (an HTML comment: JupyterLab does not show it) is
printed only when EXPRESSION is true in the notebook's namespace (« <!-- si disponible --> »: the chapter's
register is there): such a cell is executed too, as `if EXPRESSION: page.markdown(…)`."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nbformat imports jsonschema and its format checkers (about 1 s): not for a key computed
    import nbformat  # by an unchanged build

ROLE = re.compile(r"\{eval\}`([^`\n]+)`")
CONDITION = re.compile(r"\A\s*<!--\s*si\s+(?P<expr>.+?)\s*-->[ \t]*\n?")
TAG = "narration"  # the tag of a code cell made from a Markdown cell


def has_expressions(source: str) -> bool:
    return bool(ROLE.search(source))


def condition(source: str) -> tuple[str | None, str]:
    """The cell's condition (« <!-- si disponible --> » on its first line) and its text without it."""
    m = CONDITION.match(source)
    return (m.group("expr"), source[m.end():]) if m else (None, source)


def executed(source: str) -> bool:
    """A Markdown cell the build executes (an expression, or a condition), rather than leaves to nbconvert."""
    return has_expressions(source) or condition(source)[0] is not None


def expressions_to_code(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook to execute: each Markdown cell with an {eval} expression or a condition replaced, in place, by
    a code cell `page.markdown(<its text>, globals())` (under `if <condition>:`), tagged « narration », its
    Markdown kept in its metadata."""
    import nbformat

    out = nbformat.from_dict(nb)
    cells = []
    for cell in out.cells:
        if cell.cell_type == "markdown" and executed(cell.source):
            expr, text = condition(cell.source)
            call = f"page.markdown({text!r}, globals())"
            code = nbformat.v4.new_code_cell(call if expr is None else f"if {expr}:\n    {call}",
                                             metadata={"tags": [TAG], "rapport": {"markdown": cell.source}})
            if "id" in cell:
                code["id"] = cell["id"]
            cells.append(code)
        else:
            cells.append(cell)
    out.cells = cells
    return out


def executable(src, folder):
    """The notebook papermill should execute for `src`: `src` itself when none of its Markdown cells holds
    an expression, else its transformed copy written in `folder` (the build's private kernels folder)."""
    import uuid
    from pathlib import Path

    import nbformat

    nb = nbformat.read(src, as_version=4)
    if not any(c.cell_type == "markdown" and executed(c.source) for c in nb.cells):
        return Path(src)
    path = Path(folder) / f"narration-{uuid.uuid4().hex[:8]}-{Path(src).name}"
    nbformat.write(expressions_to_code(nb), path)
    return path


def restore_source(executed, src) -> None:
    """The executed notebook names its source notebook, never the transformed copy (gone with the build)."""
    from pathlib import Path

    import nbformat

    path = Path(executed)
    if not path.is_file():
        return
    nb = nbformat.read(path, as_version=4)
    pm = nb.metadata.get("papermill")
    if pm is not None and pm.get("input_path") != str(src):
        pm["input_path"] = str(src)
        nbformat.write(nb, path)


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source  # the file's form: a string or its lines


def _plain_prose(cell) -> bool:
    return cell["cell_type"] == "markdown" and not executed(_text(cell["source"]))


def code_digest(src) -> str:
    """The notebook `src` but for its plain prose: code cells (source and tags), Markdown cells that hold an
    expression or a condition, and the place of every cell. Two notebooks with the same digest differ only in Markdown cells
    without expressions: their executed outputs are the same."""
    import hashlib
    import json
    from pathlib import Path

    nb = json.loads(Path(src).read_text(encoding="utf-8"))  # read as JSON: no nbformat (see above) for a key
    cells = [["markdown"] if _plain_prose(c) else
             [c["cell_type"], _text(c["source"]), sorted(c.get("metadata", {}).get("tags", []))]
             for c in nb.get("cells", [])]
    kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    return hashlib.sha256(json.dumps([kernel, cells], ensure_ascii=False).encode()).hexdigest()


def with_new_prose(executed: bytes, src) -> bytes | None:
    """The executed notebook `executed` with the plain Markdown cells of `src` put in their places, its outputs
    kept: what executing `src` would give when only its prose changed. None when the cells do not line up (a
    cell added, removed or moved): the chapter must then be executed."""
    import nbformat

    ran = nbformat.reads(executed.decode("utf-8"), as_version=4)
    new = nbformat.read(src, as_version=4)
    own = [c for c in ran.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    if len(own) != len(new.cells):
        return None
    for old, cell in zip(own, new.cells):
        if _plain_prose(cell):
            if old.cell_type != "markdown":
                return None
            old.source = cell.source
        elif old.cell_type != "code":  # a code cell, or a Markdown cell with expressions (executed as code)
            return None
    return nbformat.writes(ran).encode("utf-8")
