"""Report assembly: executed chapter notebooks -> nbconvert fragments (project template) ->
one self-contained HTML report (cover, contents, chapters, annexes) and one page per chapter,
with figures and tables numbered across the report and cross-references resolved; then the
PDF with WeasyPrint from the same HTML and the print stylesheet."""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from helpers import config
from helpers.errors import RapportError


@dataclass
class Chapter:
    key: str
    title: str
    fragment: str  # HTML of the chapter body (headings demoted, ids prefixed)
    illustrative: bool


def slug(text: str) -> str:
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", t).strip("-")[:60] or "section"


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


def typographie(soup: BeautifulSoup) -> None:
    """French typography in every text node the reader sees (the PDF is made from the same HTML):
    no-break spaces before « : ; ! ? », inside « », between a number and its unit."""
    from bs4 import Comment, NavigableString

    for node in list(soup.find_all(string=True)):
        if isinstance(node, Comment) or not isinstance(node, NavigableString):
            continue
        if any(p.name in _NO_TYPO for p in node.parents):
            continue
        text = str(node)
        new = text
        for pattern, repl in _TYPO:
            new = pattern.sub(repl, new)
        if new != text:
            node.replace_with(NavigableString(new))


def _css() -> str:
    return (config.STATIC_DIR / "rapport.css").read_text(encoding="utf-8")


def _head(title: str, description: str) -> str:
    return (f'<head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/>'
            f'<title>{html.escape(title)}</title><meta name="description" content="{html.escape(description)}"/>'
            f'<meta name="generator" content="rapport-caf"/><style>{_css()}</style></head>')


@dataclass
class Meta:
    year: int
    caf_name: str
    report_title: str
    date_obs: str
    illustrative: bool

    @property
    def title(self) -> str:
        return f"Rapport d’activité {self.year} — {self.report_title} — {self.caf_name}"


def toc(chapters: list[Chapter], annexes: list[tuple[str, str]]) -> str:
    items = []
    for ch in chapters:
        soup = BeautifulSoup(ch.fragment, "html.parser")
        subs = "".join(f'<li><a href="#{h["id"]}">{html.escape(h.get_text(" ", strip=True))}</a></li>'
                       for h in soup.find_all("h3"))
        items.append(f'<li class="niveau-1"><a href="#ch-{ch.key}">{html.escape(ch.title)}</a>'
                     + (f"<ol>{subs}</ol>" if subs else "") + "</li>")
    for ident, title in annexes:
        items.append(f'<li class="niveau-1"><a href="#{ident}">{html.escape(title)}</a></li>')
    return ('<nav class="sommaire" aria-labelledby="sommaire-titre"><h2 id="sommaire-titre">Sommaire</h2>'
            f'<ol>{"".join(items)}</ol></nav>')


def _chapter_section(ch: Chapter, heading: str = "h2") -> str:
    cls = "chapitre illustratif" if ch.illustrative else "chapitre"
    return (f'<section class="{cls}" id="ch-{ch.key}" data-titre="{html.escape(ch.title, quote=True)}" '
            f'aria-labelledby="titre-{ch.key}"><{heading} id="titre-{ch.key}">{html.escape(ch.title)}</{heading}>'
            f"{ch.fragment}</section>")


def cover(meta: Meta, chapters: list[Chapter]) -> str:
    listing = "".join(f"<li>{html.escape(c.title)}</li>" for c in chapters)
    notice = ('<p class="avertissement illustratif">Ce document est construit en partie sur des <strong>données '
              'illustratives</strong> (registres de démonstration, extrait interne illustratif) : chaque chiffre, '
              'graphique et tableau qui en vient porte la mention « Données illustratives ».</p>'
              if meta.illustrative else "")
    return (f'<header class="couverture" id="haut" role="banner"><p class="organisme">{html.escape(meta.caf_name)}</p>'
            f'<h1>Rapport d’activité {meta.year}<span class="sous-titre">{html.escape(meta.report_title)}</span></h1>'
            f'<p class="date">Données au {html.escape(meta.date_obs)}</p>'
            f'<ul class="chapitres-couverture" aria-label="Chapitres">{listing}</ul>{notice}</header>')


def standalone_page(title: str, body: str, links: list[tuple[str, str]] | None = None) -> str:
    """A page published beside the report (provenance.html), in the report's style, with links
    back to it (`links`: href, text)."""
    items = "".join(f'<li><a href="{html.escape(h, quote=True)}">{html.escape(t)}</a></li>' for h, t in links or [])
    nav = f'<nav class="chapitres" id="haut" aria-label="Rapport"><ul>{items}</ul></nav>' if items else ""
    soup = BeautifulSoup(f'<!DOCTYPE html><html lang="fr">{_head(title, title)}<body>{nav}<main id="contenu" '
                         f'class="annexe">{body}</main></body></html>', "html.parser")
    typographie(soup)
    return str(soup)


def _chapter_nav(meta: Meta, chapters: list[Chapter], here: Chapter) -> str:
    """The top of a chapter page: the whole report, every chapter (the current one marked), the annexes."""
    full = f"rapport-{meta.year}.html"
    links = [f'<li><a href="{full}">Rapport complet</a></li>']
    for c in chapters:
        current = ' aria-current="page"' if c.key == here.key else ""
        links.append(f'<li><a href="{page_name(meta.year, c.key)}"{current}>{html.escape(c.title)}</a></li>')
    links.append(f'<li><a href="{full}#annexe-sources">Annexes</a></li>')
    return f'<nav class="chapitres" id="haut" aria-label="Chapitres"><ul>{"".join(links)}</ul></nav>'


def _sequence_nav(meta: Meta, chapters: list[Chapter], here: Chapter) -> str:
    """The bottom of a chapter page: previous and next chapter, back to the top."""
    i = [c.key for c in chapters].index(here.key)
    items = []
    if i > 0:
        prev = chapters[i - 1]
        items.append(f'<a class="precedent" rel="prev" href="{page_name(meta.year, prev.key)}">'
                     f'<span class="sens">Chapitre précédent</span> {html.escape(prev.title)}</a>')
    if i + 1 < len(chapters):
        nxt = chapters[i + 1]
        items.append(f'<a class="suivant" rel="next" href="{page_name(meta.year, nxt.key)}">'
                     f'<span class="sens">Chapitre suivant</span> {html.escape(nxt.title)}</a>')
    else:
        items.append(f'<a class="suivant" href="rapport-{meta.year}.html#annexe-sources">'
                     '<span class="sens">Suite</span> Annexes</a>')
    return f'<nav class="suite" aria-label="Chapitre précédent et suivant">{"".join(items)}</nav>'


def page_name(year: int, key: str) -> str:
    return f"rapport-{year}-{key}.html"


def assemble(meta: Meta, chapters: list[Chapter], annexes: list[tuple[str, str, str]]) -> tuple[str, dict[str, str]]:
    """The whole report, and one standalone page per chapter (name -> HTML)."""
    body = "".join(_chapter_section(ch) for ch in chapters)
    body += "".join(f'<section class="annexe" id="{i}" data-titre="{html.escape(t, quote=True)}" '
                    f'aria-labelledby="titre-{i}"><h2 id="titre-{i}">{html.escape(t)}</h2>{content}</section>'
                    for i, t, content in annexes)
    doc = (f'<!DOCTYPE html><html lang="fr">{_head(meta.title, meta.title)}'
           f'<body class="rapport" data-rapport="{html.escape(f"Rapport d’activité {meta.year} — {meta.caf_name}", quote=True)}">'
           f'{cover(meta, chapters)}{toc(chapters, [(i, t) for i, t, _ in annexes])}<main id="contenu">{body}</main>'
           f'<footer class="pied" role="contentinfo"><p class="haut"><a href="#haut">Haut de page</a></p>'
           f'<p>{html.escape(meta.caf_name)} — rapport d’activité '
           f'{meta.year}, chapitre « {html.escape(meta.report_title)} ».</p></footer></body></html>')
    soup = BeautifulSoup(doc, "html.parser")
    numbers = _number(soup)
    _resolve_xrefs(soup, numbers, built={c.key for c in chapters})
    typographie(soup)
    full = str(soup)

    # per-chapter pages share the report's numbering
    where = {}
    for ch in chapters:
        for el in BeautifulSoup(ch.fragment, "html.parser").select("figure[data-kind]"):
            where[el["id"]] = page_name(meta.year, ch.key)
    pages = {}
    for ch in chapters:
        title = f"{ch.title} — Rapport d’activité {meta.year} — {meta.caf_name}"
        section = soup.find("section", id=f"ch-{ch.key}")
        part = BeautifulSoup(str(section), "html.parser")
        sec = part.find("section")
        sec.find("h2").name = "h1"
        for h in sec.find_all(["h3", "h4", "h5", "h6"]):
            h.name = f"h{int(h.name[1]) - 1}"
        _resolve_xrefs(part, numbers, where, page_name(meta.year, ch.key))
        page = BeautifulSoup(
            f'<!DOCTYPE html><html lang="fr">{_head(title, title)}<body data-rapport="'
            f'{html.escape(f"Rapport d’activité {meta.year} — {meta.caf_name}", quote=True)}">'
            f'{_chapter_nav(meta, chapters, ch)}'
            f'<main id="contenu">{part}</main>{_sequence_nav(meta, chapters, ch)}'
            f'<footer class="pied" role="contentinfo"><p class="haut"><a href="#haut">Haut de page</a></p><p>'
            f'{html.escape(meta.caf_name)} — rapport d’activité {meta.year}.</p></footer></body></html>', "html.parser")
        typographie(page)
        pages[page_name(meta.year, ch.key)] = str(page)
    return full, pages


def write_pdf(html_text: str, target: Path, base_url: Path) -> None:
    from weasyprint import HTML

    HTML(string=html_text, base_url=str(base_url)).write_pdf(target, pdf_variant="pdf/ua-1")
