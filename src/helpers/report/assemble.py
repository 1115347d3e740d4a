"""Report assembly: executed chapter notebooks -> nbconvert fragments (project template) ->
one self-contained HTML report (cover, contents, chapters, annexes) and one page per chapter,
with figures and tables numbered across the report and cross-references resolved; then the
PDF with WeasyPrint from the same HTML and the print stylesheet."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from markupsafe import Markup
from nbconvert import HTMLExporter

from helpers import config, fmt
from helpers.errors import RapportError
from helpers.report.templating import render


@dataclass
class Chapter:
    key: str
    title: str
    fragment: str  # HTML of the chapter body (headings demoted, ids prefixed)
    illustrative: bool


slug = fmt.slug  # anchors of headings


def notebook_fragment(nb_path: Path) -> str:
    """The chapter's narrative and outputs, through the project's nbconvert template."""
    exporter = HTMLExporter(template_name="chapitre", extra_template_basedirs=[str(config.TEMPLATES_DIR)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nbformat.read(nb_path, as_version=4))
    return body


_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]


def _drop_empty_sections(root) -> None:
    """A section whose optional content is absent (no outlines, no internal extract) leaves no
    bare heading: a heading followed by no text, figure or table before the next heading of the
    same or a higher level is removed (the sources annex says what was left out)."""
    from bs4 import Comment, NavigableString, Tag

    for h in reversed(root.find_all(_HEADINGS)):
        level = int(h.name[1])
        has_content = False
        for el in h.next_elements:
            if isinstance(el, Tag) and el.name in _HEADINGS:
                if int(el.name[1]) <= level:
                    break
                has_content = True  # a subsection with content (empty ones were removed before)
                break
            if (isinstance(el, NavigableString) and not isinstance(el, Comment) and el.strip()
                    and h not in el.parents and el.parent.name not in ("style", "script")):
                has_content = True
                break
            if isinstance(el, Tag) and el.name in ("img", "figure", "table"):
                has_content = True
                break
        if not has_content and level > 1:
            h.decompose()


def scrub_notebook(nb_path: Path) -> None:
    """The executed notebook is published: no folder of the building machine in it. Papermill
    records the input and output paths and the parameters (folders given on the command line)."""
    from helpers.report.annexes import public_text

    text = nb_path.read_text(encoding="utf-8")
    for folder in (nb_path.parent.parent, config.ROOT):  # the build folder, then the project
        for form in {str(folder), str(folder.resolve())}:
            text = text.replace(form + "/", "")
    nb = nbformat.reads(text, as_version=4)
    pm = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if key in pm:
            pm[key] = f"notebooks/{nb_path.name}"
    def public(v):
        if isinstance(v, str):
            return public_text(v)
        if isinstance(v, dict):
            return {k: public(x) for k, x in v.items()}
        return [public(x) for x in v] if isinstance(v, list) else v

    if "parameters" in pm:
        pm["parameters"] = public(pm["parameters"])
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = public_text(cell.source)
    nbformat.write(nb, nb_path)


def chapter_from_notebook(key: str, nb_path: Path, illustrative: bool) -> Chapter:
    scrub_notebook(nb_path)
    soup = BeautifulSoup(notebook_fragment(nb_path), "html.parser")
    root = soup.find("section", class_="chapitre-source") or soup
    for a in root.select("a.anchor-link"):
        a.decompose()
    if root.select(".erreur-figure"):
        raise RapportError(f"Chapitre « {key} » : une image est affichée sans page.figure() (titre, source et texte "
                           "alternatif obligatoires)")
    _drop_empty_sections(root)
    h1 = root.find("h1")
    if h1 is None:
        raise RapportError(f"Chapitre « {key} » : le titre (# …) du chapitre est absent du notebook")
    title = h1.get_text(" ", strip=True)
    h1.decompose()
    # headings of the notebook: ## section -> h3 in the report, ### -> h4
    used: set[str] = set()
    for h in root.find_all(["h2", "h3", "h4", "h5"]):
        level = int(h.name[1]) + 1
        h.name = f"h{min(level, 6)}"
        base = f"{key}-{slug(h.get_text(' ', strip=True))}"
        ident, n = base, 2
        while ident in used:
            ident, n = f"{base}-{n}", n + 1
        used.add(ident)
        h["id"] = ident
    inner = "".join(str(c) for c in root.contents)
    return Chapter(key, title, inner, illustrative)


def _number(soup: BeautifulSoup) -> dict[str, tuple[str, int]]:
    """Number figures and tables in document order; return id -> (kind, number)."""
    numbers: dict[str, tuple[str, int]] = {}
    count = {"figure": 0, "tableau": 0}
    for el in soup.select("figure[data-kind]"):
        kind = el["data-kind"]
        count[kind] += 1
        label = el.select_one(".numero")
        if label is not None:
            label.string = f"{'Figure' if kind == 'figure' else 'Tableau'} {count[kind]} :"
        numbers[el["id"]] = (kind, count[kind])
    return numbers


def _resolve_xrefs(soup: BeautifulSoup, numbers: dict[str, tuple[str, int]], where: dict[str, str] | None = None,
                   here: str | None = None, built: set[str] | None = None) -> None:
    for a in soup.select("a.xref"):
        target = a["href"].lstrip("#").split("#")[-1]
        if target not in numbers:
            span = a.find_parent("span", class_="renvoi")
            chapter = span.get("data-chapitre") if span is not None else ""
            if span is not None and chapter and built is not None and chapter not in built:
                span.decompose()  # the target's chapter is not part of this build
                continue
            raise RapportError(f"Renvoi vers « {target} » : aucune figure ni aucun tableau ne porte cet identifiant")
        kind, n = numbers[target]
        a.string = f"{'figure' if kind == 'figure' else 'tableau'} {n}"
        if where is not None and where.get(target) != here:
            a["href"] = f"{where[target]}#{target}"


_NO_TYPO = {"style", "script", "code", "pre", "textarea"}
_TYPO = [
    (re.compile(r"[ \t\n]+([:;!?»])"), "\u00a0\\1"),  # no-break space before : ; ! ? and »
    (re.compile(r"«[ \t\n]+"), "«\u00a0"),  # and after «
    (re.compile(r"(\d)[ \t\n\u00a0]+(%|€|k€|M€|ETP\b)"), "\\1\u202f\\2"),  # narrow one between a number and its unit
]


_TYPO_ATTRIBUTES = ("alt", "aria-label")  # read aloud or shown in place of the element: French text too


def _french(text: str) -> str:
    for pattern, repl in _TYPO:
        text = pattern.sub(repl, text)
    return text


def typographie(soup: BeautifulSoup) -> None:
    """French typography in every text node the reader sees (the PDF is made from the same HTML), and in
    the attributes read in place of an element (alt text, aria-label): no-break spaces before « : ; ! ? »,
    inside « », between a number and its unit."""
    from bs4 import Comment, NavigableString

    for node in list(soup.find_all(string=True)):
        if isinstance(node, Comment) or not isinstance(node, NavigableString):
            continue
        if any(p.name in _NO_TYPO for p in node.parents):
            continue
        text = str(node)
        new = _french(text)
        if new != text:
            node.replace_with(NavigableString(new))
    for attribute in _TYPO_ATTRIBUTES:
        for tag in soup.find_all(attrs={attribute: True}):
            if isinstance(tag[attribute], str):
                tag[attribute] = _french(tag[attribute])


def _css() -> Markup:
    """The stylesheet, inlined in every page (the package's own file)."""
    return Markup((config.STATIC_DIR / "rapport.css").read_text(encoding="utf-8"))


@dataclass
class Meta:
    year: int
    caf_name: str
    report_title: str
    date_obs: str
    illustrative: bool
    published: str = ""  # the publication date on the cover: the build's date, in French

    @property
    def title(self) -> str:
        return f"Rapport d’activité {self.year} — {self.report_title} — {self.caf_name}"


def _contents(chapters: list[Chapter], annexes: list[tuple[str, str]]) -> list[dict]:
    """The entries of the contents: each chapter with its sections (h3), then the annexes."""
    entries = []
    for ch in chapters:
        soup = BeautifulSoup(ch.fragment, "html.parser")
        subs = [{"ident": h["id"], "title": h.get_text(" ", strip=True)} for h in soup.find_all("h3")]
        entries.append({"ident": f"ch-{ch.key}", "title": ch.title, "subsections": subs})
    entries += [{"ident": ident, "title": title, "subsections": []} for ident, title in annexes]
    return entries


def standalone_page(title: str, body: str, links: list[tuple[str, str]] | None = None, heading: bool = False) -> str:
    """A page published beside the report (provenance.html), in the report's style, with links
    back to it (`links`: href, text); `body` is HTML built by the code; `heading`: the title is the
    page's first heading."""
    soup = BeautifulSoup(render("page-autonome.html.j2", title=title, description=title, css=_css(),
                                links=links or [], heading=heading, body=Markup(body)), "html.parser")
    typographie(soup)
    return str(soup)


def page_name(year: int, key: str) -> str:
    return f"rapport-{year}-{key}.html"


def _chapter_page(meta: Meta, chapters: list[Chapter], i: int, section: str) -> str:
    """One chapter on its own page (its section of the report, headings raised one level)."""
    here = chapters[i]
    title = f"{here.title} — Rapport d’activité {meta.year} — {meta.caf_name}"
    links = [{"key": c.key, "title": c.title, "page": page_name(meta.year, c.key)} for c in chapters]
    return render("chapitre.html.j2", title=title, description=title, css=_css(), meta=meta,
                  report=f"rapport-{meta.year}.html", chapters=links, here=here.key, section=Markup(section),
                  previous=links[i - 1] if i > 0 else None, following=links[i + 1] if i + 1 < len(chapters) else None)


def assemble(meta: Meta, chapters: list[Chapter], annexes: list[tuple[str, str, str]],
             front: str = "") -> tuple[str, dict[str, str]]:
    """The whole report, and one standalone page per chapter (name -> HTML). `front`: the page after
    the contents (« L'essentiel », a section with id « essentiel »), if any."""
    entries = _contents(chapters, [(i, t) for i, t, _ in annexes])
    if front:
        entries.insert(0, {"ident": "essentiel", "title": "L’essentiel", "subsections": []})
    doc = render("rapport.html.j2", title=meta.title, description=meta.title, css=_css(), meta=meta,
                 chapters=[{"key": c.key, "title": c.title, "fragment": Markup(c.fragment),
                            "illustrative": c.illustrative} for c in chapters],
                 annexes=[{"ident": i, "title": t, "content": Markup(content)} for i, t, content in annexes],
                 entries=entries, front=Markup(front))
    soup = BeautifulSoup(doc, "html.parser")
    numbers = _number(soup)
    _resolve_xrefs(soup, numbers, built={c.key for c in chapters})
    typographie(soup)
    full = str(soup)

    # per-chapter pages share the report's numbering (the figures of each chapter's section, parsed once above)
    sections = {ch.key: soup.find("section", id=f"ch-{ch.key}") for ch in chapters}
    where = {el["id"]: page_name(meta.year, key) for key, sec in sections.items()
             for el in sec.select("figure[data-kind]")}
    pages = {}
    for i, ch in enumerate(chapters):
        part = BeautifulSoup("", "html.parser")
        part.append(copy.copy(sections[ch.key]))  # a deep copy of the parsed section, not a new parse
        sec = part.find("section")
        sec.find("h2").name = "h1"
        for h in sec.find_all(["h3", "h4", "h5", "h6"]):
            h.name = f"h{int(h.name[1]) - 1}"
        _resolve_xrefs(part, numbers, where, page_name(meta.year, ch.key))
        page = BeautifulSoup(_chapter_page(meta, chapters, i, str(part)), "html.parser")
        typographie(page)
        pages[page_name(meta.year, ch.key)] = str(page)
    return full, pages


def write_pdf(html_text: str, target: Path, base_url: Path | None = None) -> int:
    """The tagged PDF of `html_text`; returns its number of pages.

    No base URL by default: the page embeds everything it shows, and WeasyPrint then keeps relative links as
    they are, so that the PDF's link to `provenance.html` opens the file beside the PDF wherever the report is
    published or copied (with the staging folder as base URL, it pointed into that folder, gone once published)."""
    from weasyprint import HTML

    document = HTML(string=html_text, base_url=str(base_url) if base_url is not None else None).render()
    document.write_pdf(target, pdf_variant="pdf/ua-1")
    return len(document.pages)
