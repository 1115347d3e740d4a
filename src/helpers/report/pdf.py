"""PDFs laid out once. A portrait is laid out by WeasyPrint without its page numbers (its « socle », a tagged
PDF/UA file); the numbers are then stamped on its pages: « page k / n » for its own PDF, « page N » from its place
in the combined PDF of a département's portraits, which puts the socles' pages together instead of laying every
portrait out a second time (about 0,7 s each). The stamps are laid out by WeasyPrint too, with the report's style
sheet (same font, size, colour and place as the numbers of a report's page), and marked as artifacts: page numbers
are not part of the tagged text."""
from __future__ import annotations

import io
import re
from pathlib import Path

# the report's print style numbers every page at its bottom right (rapport.css); the socle leaves that box empty
_NO_NUMBERS = "@media print { @page { @bottom-right { content: none; } } }"
_MARKED = re.compile(rb"/[A-Za-z]+\s*<<\s*/MCID\s+\d+\s*>>\s*BDC")


def socle(html_text: str, target: Path) -> int:
    """`target`: the tagged PDF of `html_text` without page numbers; returns its number of pages."""
    from helpers.report.assemble import write_pdf

    head, sep, tail = html_text.rpartition("</style>")
    return write_pdf(f"{head}{_NO_NUMBERS}{sep}{tail}" if sep else html_text, target)


def _stamps(pages: int, first: int = 1, of_total: bool = True) -> list:
    """`pages` pages holding only their number: « page k / n » from 1, or « page N » from `first`."""
    from pypdf import PdfReader
    from pypdf.generic import DecodedStreamObject, NameObject
    from weasyprint import HTML

    from helpers.report.assemble import _css

    css = str(_css()) + "html, body { background: none !important; } @page { background: none !important; }"  # see-through
    if not of_total:
        css += ('@media print { @page { @bottom-right { content: "page " counter(page); } } '
                f"@page :first {{ counter-reset: page {first}; }} }}")
    body = "".join('<div style="break-before: page"></div>' if i else "<div></div>" for i in range(pages))
    buf = io.BytesIO()
    HTML(string=f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>pages</title><style>{css}'
                f"</style></head><body>{body}</body></html>").render().write_pdf(buf, pdf_variant="pdf/ua-1")
    out = []
    for page in PdfReader(buf).pages:
        data = _MARKED.sub(b"/Artifact BMC", page.get_contents().get_data())
        stream = DecodedStreamObject()
        stream.set_data(data)
        page[NameObject("/Contents")] = stream
        out.append(page)
    if len(out) != pages:  # a stamp per page, or the numbers would shift
        raise RuntimeError(f"numérotation des pages : {len(out)} pages de numéros pour {pages} pages")
    return out


def numbered(socle_pdf: Path, target: Path) -> int:
    """`target`: the socle with « page k / n » on its pages (still tagged); its number of pages."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(socle_pdf))
    for page, stamp in zip(writer.pages, _stamps(len(writer.pages))):
        page.merge_page(stamp)
    with open(target, "wb") as f:
        writer.write(f)
    return len(writer.pages)


def portrait(html_text: str, target: Path) -> int:
    """A portrait's PDF (`target`) and its socle beside it (`socle_path(target)`), laid out once; its pages."""
    socle(html_text, socle_path(target))
    return numbered(socle_path(target), target)


def socle_path(target: Path) -> Path:
    return target.with_name(f"{target.stem}.socle.pdf")


def combined(front: bytes, parts: list[tuple[str, Path]], target: Path) -> int:
    """`target`: the `front` pages (cover, contents; not numbered) then each part's socle numbered from its place
    in the whole, with a bookmark per part (`parts`: its title and socle). Returns the number of pages."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(front))
    starts = []
    for title, path in parts:
        starts.append((title, len(writer.pages)))
        writer.append(PdfReader(str(path)), import_outline=False)
    first = starts[0][1] + 1 if starts else 1
    for page, stamp in zip(writer.pages[first - 1:], _stamps(len(writer.pages) - first + 1, first, of_total=False)):
        page.merge_page(stamp)
    for title, start in starts:
        writer.add_outline_item(title=title, page_number=start)
    with open(target, "wb") as f:
        writer.write(f)
    return len(writer.pages)
