"""What a chapter notebook displays: prose with computed values, key figures, numbered
figures and tables with caption, source and alt text. Each call displays HTML that the report
assembly (publish.py) numbers, links and styles; in JupyterLab it shows as is."""
from __future__ import annotations

import base64
import html
import io
import re
import string

import matplotlib.pyplot as plt
import mistune
import pandas as pd
from IPython.display import HTML, display
from markupsafe import Markup

from helpers import lineage
from helpers.errors import RapportError
from helpers.report.charts import DPI as _CHART_DPI
from helpers.report.charts import NARROW as _CHART_NARROW
from helpers.report.charts import WIDTH as _CHART_WIDTH
from helpers.report.templating import macro

# The templates are the project's own text: their inline HTML (1<sup>er</sup>) is kept. Values never go
# through Markdown: see render_text.
_md = mistune.create_markdown(escape=False, plugins=["table"])
_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_SLOT = "\ue000{}\ue001"  # private-use characters: Markdown leaves them alone
_SLOT_RE = re.compile("\ue000(\\d+)\ue001")

MARK = "Données illustratives"
MARK_HTML = f'<span class="marque-illustratif">{MARK}</span>'


def _mark(illustratif: bool) -> Markup:
    return Markup(MARK_HTML) if illustratif else Markup("")


def _element(name: str):
    """A macro of templates/rapport/elements.html.j2: the markup of what a chapter displays."""
    return macro("elements.html.j2", name)


def mark_figure(fig: plt.Figure) -> None:
    """Draw the illustrative mark inside the image, so that it survives a copy of the chart:
    a label in the top right corner and a light diagonal watermark across the plot."""
    fig.text(0.995, 0.995, MARK.upper(), ha="right", va="top", fontsize=8, fontweight="bold", color="#9B1C1C",
             bbox={"boxstyle": "round,pad=0.25", "facecolor": "#FFF4E5", "edgecolor": "#9B1C1C", "linewidth": 0.8},
             zorder=100)
    # the watermark never widens the image (a tight bounding box would grow to hold it: on a narrow chart
    # that shrinks the whole image on a phone): outside the layout, cut at the figure's edges
    watermark = fig.text(0.5, 0.5, "ILLUSTRATIF", ha="center", va="center", rotation=20, fontweight="bold",
                         fontsize=min(38, 38 * fig.get_figwidth() / _CHART_WIDTH), color="#9B1C1C", alpha=0.10, zorder=0)
    watermark.set_in_layout(False)
    watermark.set_clip_box(fig.bbox)
    watermark.set_clip_on(True)


def png_bytes(fig: plt.Figure) -> bytes:
    """The figure as a PNG at print resolution, cut to what it draws. A narrow variant (a phone's column)
    keeps a thin margin: the column has its own, and every pixel of margin shrinks the text on a phone."""
    buf = io.BytesIO()
    narrow = fig.get_figwidth() <= _CHART_NARROW + 1e-6
    fig.savefig(buf, format="png", dpi=_CHART_DPI, bbox_inches="tight", pad_inches=0.02 if narrow else 0.1)
    return buf.getvalue()


def _png(fig: plt.Figure) -> str:
    """The figure as a PNG in base64; the figure is closed."""
    data = png_bytes(fig)
    plt.close(fig)
    return base64.b64encode(data).decode("ascii")


class FigureError(RapportError):
    """A figure or table lacks its number anchor, caption, source or alt text."""


def _require(kind: str, ident: str, **fields) -> None:
    if not ident or not _ID.match(ident):
        raise FigureError(f"{kind} « {ident} » : identifiant invalide (lettres minuscules, chiffres et tirets)")
    missing = [name for name, value in fields.items() if not value or not str(value).strip()]
    if missing:
        raise FigureError(f"{kind} « {ident} » : {', '.join(missing)} manquant(s) — "
                          "chaque figure et chaque tableau a un titre, une source et un texte alternatif")


class Html(str):
    """Markup built by the code (not by data): a value of render_text inserted as is. Any operation on it
    (concatenation...) gives a plain str again, which is escaped."""


def marque(illustratif: bool) -> Html:
    """The illustrative mark to put after a sentence built from illustrative data (markup of the code)."""
    return Html(f" {MARK_HTML}") if illustratif else Html("")


class _Slots(dict):
    """Each `{name}` of a template becomes a numbered slot, filled once the Markdown is rendered."""

    def __init__(self, values: dict):
        super().__init__()
        self.values = values
        self.filled: list = []

    def __missing__(self, key):
        if key not in self.values:
            raise RapportError(f"valeur « {key} » absente du texte à compléter")
        self.filled.append(self.values[key])
        return _SLOT.format(len(self.filled) - 1)


def _fields(template: str) -> set[str]:
    """The names of the values a template shows (`{nom}`, `{v.x}` -> `v`)."""
    return {re.split(r"[.\[]", f)[0] for _, f, _, _ in string.Formatter().parse(template) if f}


def _with_marks(template: str, values: dict) -> tuple[str, dict]:
    """Each paragraph (or heading) of `template` that shows a value computed from illustrative inputs
    (lineage.Valeur) ends with the illustrative mark; the others carry none. No mark is typed by hand."""
    values = dict(values)
    values["_marque_"] = Html(f" {MARK_HTML}")
    paragraphs = template.split("\n\n")
    for i, part in enumerate(paragraphs):
        if any(lineage.illustrative(values[n]) for n in _fields(part) if n in values):
            paragraphs[i] = part.rstrip() + "{_marque_}"
    return "\n\n".join(paragraphs), values


def render_text(template: str, values: dict | None = None, marks: bool = False) -> str:
    """Markdown with `{name}` placeholders filled from computed values (already formatted); with `marks`,
    each paragraph that shows an illustrative value carries the illustrative mark (see _with_marks).

    A value is text: it is escaped and put in place after the Markdown rendering, so that neither HTML nor
    Markdown in a value (a Caf name, a register row, an EPCI name) becomes markup. Only markup built by the
    code and marked as such (Html, e.g. ref()) is inserted as is."""
    values = values or {}
    if marks:
        template, values = _with_marks(template, values)
    slots = _Slots(values)
    rendered = _md(string.Formatter().vformat(template, (), slots))

    def fill(m: re.Match) -> str:
        v = slots.filled[int(m.group(1))]
        return str(v) if isinstance(v, Html) else html.escape(str(v), quote=True)

    return _SLOT_RE.sub(fill, rendered)


class Page:
    """Display helpers for one chapter."""

    def __init__(self, chapter: str, illustrative: bool = False, caf: str = "Caf"):
        self.chapter = chapter
        self.ids: set[str] = set()
        self.illustrative = illustrative  # the whole chapter is built on illustrative data (--demo)
        self.caf = caf  # « traitement <caf> » at the end of each source line

    def source(self, kind: str, ident: str, obj) -> str:
        """The source line of a figure or table, written from what it was computed from (lineage):
        never typed, so it names only the datasets the figure reads."""
        text = lineage.phrase(lineage.of(obj), self.caf)
        if not text:
            raise FigureError(f"{kind} « {ident} » : source inconnue — la figure ou le tableau doit venir d’une "
                              "fonction de chapitre décorée par @lineage.sourced, qui enregistre les données lues")
        return text

    def _show(self, markup: str) -> None:
        display(HTML(markup))

    def _unique(self, ident: str) -> None:
        if ident in self.ids:
            raise FigureError(f"identifiant « {ident} » utilisé deux fois dans le chapitre {self.chapter}")
        self.ids.add(ident)

    def texte(self, template: str, values: dict | None = None) -> None:
        """Prose with computed values: a paragraph that shows a value computed from illustrative inputs
        carries the mark (derived from the values' lineage, never placed by hand)."""
        self._show(f'<div class="texte">{render_text(template, values, marks=True)}</div>')

    def markdown(self, source: str, namespace: dict) -> None:
        """A Markdown cell of the notebook with its MyST expressions (« {eval}`v.foyers` ») evaluated in the
        notebook's namespace: rendered like `texte` (values escaped, a paragraph showing an illustrative
        value marked). The build turns such a cell into a call of this method (helpers.narration)."""
        from helpers.narration import ROLE

        values: dict = {}

        def slot(m: re.Match) -> str:
            expr = m.group(1).strip()
            try:
                value = eval(expr, namespace)  # noqa: S307 (the notebook's own expression, as JupyterLab runs it)
            except Exception as exc:
                raise NameError(f"expression « {expr} » d’une cellule Markdown : {type(exc).__name__} : {exc}") from None
            name = f"_e{len(values)}"
            values[name] = value if isinstance(value, str) else str(value)
            return "{" + name + "}"

        parts, last = [], 0
        for m in ROLE.finditer(source):  # the text around the expressions is literal: its braces escaped
            parts += [source[last:m.start()].replace("{", "{{").replace("}", "}}"), slot(m)]
            last = m.end()
        parts.append(source[last:].replace("{", "{{").replace("}", "}}"))
        self.texte("".join(parts), values)

    def avertissement(self, template: str, values: dict | None = None, kind: str = "illustratif") -> None:
        self._show(f'<aside class="avertissement {kind}" role="note">{render_text(template, values)}</aside>')

    def chiffres_cles(self, items: list[tuple], titre: str = "Chiffres clés") -> None:
        """items: (value, label, detail) — all already formatted; a key figure whose value, label or
        detail was computed from illustrative inputs (lineage.Valeur) carries its own mark. (A fourth
        element, True, is still honoured for callers that know no lineage.)"""
        rows = [{"value": it[0], "label": it[1], "detail": it[2],
                 "illustrative": lineage.illustrative(*it[:3]) or (len(it) > 3 and bool(it[3]))} for it in items]
        self._show(str(_element("key_figures")(rows, titre, Markup(MARK_HTML))))

    def figure(self, fig: plt.Figure, id: str, titre: str, alt: str, illustratif: bool = False) -> None:
        """A numbered figure: its source line comes from what `fig` was computed from."""
        _require("Figure", id, titre=titre, alt=alt)
        source = self.source("Figure", id, fig)
        self._unique(id)
        illustratif = illustratif or self.illustrative or lineage.illustrative(fig)
        # the same chart drawn for a phone (charts.NARROW), shown on narrow screens; the PDF keeps the wide one
        narrow = fig.rapport_narrow() if callable(getattr(fig, "rapport_narrow", None)) else None
        if illustratif:
            for f in (fig, narrow):
                if f is not None:
                    mark_figure(f)
            alt = f"{MARK}. {alt}"
        data, narrow_data = (None if f is None else _png(f) for f in (fig, narrow))
        self._show(str(_element("figure")(id, data, titre, source, alt, _mark(illustratif), narrow_data)))

    def tableau(self, df: pd.DataFrame, id: str, titre: str, resume: str,
                row_header: bool = True, numeric: list[str] | None = None, total: bool = False,
                illustratif: bool = False, note: str = "") -> None:
        """A data table: `df` holds formatted strings; `resume` is its text summary (accessible
        description, like a figure's alt text); `total`: the last row is a total; `note`: what the
        reader needs to read it (e.g. how its total relates to a headline figure). Its source line
        comes from what `df` was computed from."""
        _require("Tableau", id, titre=titre, resume=resume)
        source = self.source("Tableau", id, df)
        self._unique(id)
        illustratif = illustratif or self.illustrative or lineage.illustrative(df)
        numeric = set(numeric if numeric is not None else df.columns[1:])
        headers = [str(c) for c in df.columns]
        rows = [["" if pd.isna(row[c]) else str(row[c]) for c in df.columns] for _, row in df.iterrows()]
        columns = [j for j, c in enumerate(df.columns) if c in numeric]
        self._show(str(_element("table")(id, headers, rows, titre, source, resume, note, columns, row_header, total,
                                         _mark(illustratif))))

    def lien(self, url: str, texte: str) -> None:
        self._show(f'<p class="lien-externe"><a href="{html.escape(url, quote=True)}">{html.escape(texte)}</a>'
                   f' <span class="url">({html.escape(url)})</span></p>')


def ref(ident: str, kind: str = "figure", chapitre: str | None = None) -> Html:
    """A cross-reference « (voir la figure 4) » to a figure or table of any chapter, resolved at
    assembly; left out when the target's chapter (`chapitre`) is not part of the build. As a value of
    render_text it is inserted as HTML."""
    article = "la" if kind == "figure" else "le"
    e = lambda v: html.escape(v, quote=True)  # noqa: E731
    return Html(f'<span class="renvoi" data-chapitre="{e(chapitre or "")}">(voir {article} '
                f'<a class="xref" href="#{e(ident)}" data-kind="{e(kind)}">{e(kind)} ?</a>)</span>')
