"""The built HTML report in a real browser: headless Chromium (Debian's, /usr/bin/chromium), network cut.

For the whole report and each chapter page: no request but the file itself and data: URIs, no console error
nor page error, no axe-core violation of impact serious or critical, and a few structural facts.

Driven from Python by playwright (tests/headless.py); axe-core is the axe.min.js shipped by the pinned PyPI
package axe-playwright-python (requirements.lock). Every page is opened in a fresh Chromium profile and its facts
collected into one dict that the tests below read. A canary page with known faults checks the harness itself.
"""
from __future__ import annotations

import importlib.resources
import shutil
import warnings
from pathlib import Path

import pytest
from headless import chromium

from helpers import cli

pytestmark = pytest.mark.e2e

YEAR = 2023
PAGES = [f"rapport-{YEAR}.html", f"rapport-{YEAR}-portrait.html", f"rapport-{YEAR}-ctg.html",
         f"rapport-{YEAR}-cooperation.html", "provenance.html"]
CHAPTER_PAGES = PAGES[1:4]
# Screenshots of every page at 390 and 1280 px, to look at (git-ignored).
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# The smallest text drawn in a chart is 7 pt at 200 dpi (19.4 px of the image): shown at this share of
# its natural width or more, it stays at 11 px or more on screen.
MIN_CHART_SCALE = 11 / (7 / 72 * 200)
BLOCKING = ("critical", "serious")

# A page with one fault of each kind the tests look for (.invalid never resolves, and the network is cut anyway).
CANARY = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>canari</title>
<link rel="preconnect" href="https://example.invalid"></head><body>
<h2>Niveau 2</h2><h4>Niveau 4</h4>
<img src="https://example.invalid/image.png">
<div style="background: url(http://example.invalid/fond.png); height: 10px"></div>
<table><tr><td>1</td></tr></table>
<script>console.error("erreur canari"); throw new Error("exception canari");</script>
</body></html>
"""


# Network cut, first layer: no host name resolves (no DNS query leaves the browser).
NO_DNS = ["--host-resolver-rules=MAP * ~NOTFOUND"]
AXE_SOURCE = (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")

# Scroll through the whole page so that lazy images and late resources get requested.
SCROLL_JS = """async () => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  for (let y = 0; y < document.documentElement.scrollHeight; y += window.innerHeight) {
    window.scrollTo(0, y);
    await frame();
  }
  window.scrollTo(0, 0);
  await frame();
}"""
FRAME_JS = "() => new Promise((resolve) => requestAnimationFrame(() => resolve()))"
DOM_JS = """() => {
  const text = (el) => (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 80);
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role="heading"]')].map((h) => {
    const aria = h.getAttribute('aria-level');
    const level = aria ? Number(aria) : /^H[1-6]$/.test(h.tagName) ? Number(h.tagName[1]) : 2;
    return { tag: h.tagName.toLowerCase(), level, id: h.id, text: text(h) };
  });
  const images = [...document.querySelectorAll('img')].map((img) => ({
    src: (img.getAttribute('src') || '').slice(0, 80), alt: img.getAttribute('alt'), id: img.id,
  }));
  const tables = [...document.querySelectorAll('table')].map((t, index) => ({
    index, id: t.id, caption: t.caption ? text(t.caption) : '', th: t.querySelectorAll('th').length,
    rows: t.rows.length,
  }));
  // Connection hints open sockets without any request event: reported as requests.
  const hints = [...document.querySelectorAll('link[rel]')]
    .filter((l) => /(^|\\s)(preconnect|dns-prefetch)(\\s|$)/i.test(l.rel)).map((l) => l.href);
  return { lang: document.documentElement.getAttribute('lang'), title: document.title, headings, images, tables,
           hints };
}"""
# Horizontal overflow, the scale of the charts, the position of the contents, the navigation links.
LAYOUT_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const scrollers = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const overflowing = [...document.body.querySelectorAll('*')]
    .filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && (r.right > vw + 1 || r.left < -1) && !scrollers(el) &&
        getComputedStyle(el).position !== 'fixed';
    })
    .slice(0, 10)
    .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} (${Math.round(el.getBoundingClientRect().right)} px)`);
  const charts = [...document.querySelectorAll('figure.figure img')].map((img) => ({
    id: img.closest('figure').id,
    scale: img.naturalWidth ? img.getBoundingClientRect().width / img.naturalWidth : 0,
  }));
  const toc = document.querySelector('nav.sommaire');
  return {
    viewport: vw,
    scrollWidth: document.documentElement.scrollWidth,
    overflowing,
    charts,
    tocPosition: toc ? getComputedStyle(toc).position : null,
    current: [...document.querySelectorAll('nav.chapitres a[aria-current="page"]')].map((a) => a.textContent),
    prev: !!document.querySelector('nav.suite a[rel="prev"]'),
    next: !!document.querySelector('nav.suite a[rel="next"]'),
    annexLink: [...document.querySelectorAll('a[href]')].some((a) => /#annexe-/.test(a.getAttribute('href'))),
    backToTop: !!document.querySelector('a[href="#haut"]') && !!document.getElementById('haut'),
  };
}"""
AXE_JS = """async () => {
  const r = await window.axe.run(document, { resultTypes: ['violations', 'incomplete'] });
  const slim = (items) => items.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target, impact: n.impact, html: n.html.slice(0, 300),
                                 summary: n.failureSummary || '' })),
  }));
  return { version: window.axe.version, violations: slim(r.violations), incomplete: slim(r.incomplete),
           passes: r.passes.map((p) => p.id), inapplicable: r.inapplicable.length };
}"""


def check_page(file: Path, shots: Path) -> dict:
    """Open `file` in a fresh Chromium profile, network cut; record every request, console message and page
    error, a few DOM facts, the layout at 390 and 1280 px (with a full-page screenshot of each into `shots`),
    then run axe-core in the page. A page that cannot be checked gets an "error" field."""
    page_url = file.resolve().as_uri()
    result = {"file": str(file), "url": page_url, "requests": [], "console": [], "pageErrors": []}

    def allowed(url: str) -> bool:
        return url == page_url or url.startswith("data:")

    def record(req) -> None:
        result["requests"].append({"url": req.url, "method": req.method, "type": req.resource_type})

    def on_console(msg) -> None:
        loc = msg.location
        result["console"].append({"type": msg.type, "text": msg.text,
                                  "location": f"{loc['url']}:{loc['lineNumber']}" if loc else ""})

    try:
        # Second layer: DevTools network emulation says "offline" to every http(s) request. bypass_csp only so
        # that the injected axe-core script runs whatever Content-Security-Policy the page declares.
        with chromium(NO_DNS, offline=True, service_workers="block", accept_downloads=False, bypass_csp=True,
                      viewport={"width": 1280, "height": 900}) as context:
            result["browserVersion"] = context.browser.version if context.browser else None
            # Every request of every page and frame of the context is recorded, whatever its scheme.
            context.on("request", record)
            # Third layer: anything but the page itself and data: URIs is aborted before it reaches the network.
            context.route("**/*", lambda route: route.continue_() if allowed(route.request.url)
                          else route.abort("blockedbyclient"))
            context.on("page", lambda p: result["requests"].append({"url": "popup: " + p.url, "method": "",
                                                                    "type": "page"}))
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda err: result["pageErrors"].append(err.stack or str(err)))
            page.on("crash", lambda _: result["pageErrors"].append("page crashed"))
            page.on("websocket", lambda ws: result["requests"].append({"url": ws.url, "method": "GET",
                                                                       "type": "websocket"}))
            response = page.goto(page_url, wait_until="load")
            result["status"] = response.status if response else None

            # Every part scrolled into view, then rendered once for print (print-only stylesheets, fonts and
            # images), and time for late requests to show.
            page.evaluate(SCROLL_JS)
            page.emulate_media(media="print")
            page.evaluate(FRAME_JS)
            page.emulate_media(media="screen")
            page.wait_for_timeout(300)
            result["dom"] = page.evaluate(DOM_JS)

            # A phone and a desk, a screenshot of the whole page at each width.
            result["layout"] = {}
            for width in (390, 1280):
                page.set_viewport_size({"width": width, "height": 900})
                page.evaluate(FRAME_JS)
                layout = result["layout"][str(width)] = page.evaluate(LAYOUT_JS)
                shots.mkdir(parents=True, exist_ok=True)
                shot = shots / f"{file.stem}-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                layout["screenshot"] = str(shot)
            page.set_viewport_size({"width": 1280, "height": 900})

            page.add_script_tag(content=AXE_SOURCE)
            result["axe"] = page.evaluate(AXE_JS)
    except Exception as e:  # the harness reports it; the tests fail naming the page
        result["error"] = f"{type(e).__name__}: {e}"
    return result


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> dict[str, dict]:
    """Build the HTML report once, then check its pages and the canary in Chromium: file name -> result."""
    tmp = tmp_path_factory.mktemp("navigateur")
    out = tmp / str(YEAR)
    assert cli.main(["-q", "build", "--year", str(YEAR), "--out", str(out), "--formats", "html"]) == 0
    canary = tmp / "canari.html"
    canary.write_text(CANARY, encoding="utf-8")
    files = [out / name for name in PAGES] + [canary]
    for f in files:
        assert f.is_file(), f
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    return {f.name: check_page(f, ARTIFACTS) for f in files}


def _page(checked, name) -> dict:
    result = checked[name]
    assert not result.get("error"), f"{name} n’a pas pu être vérifié dans Chromium :\n{result['error']}"
    return result


def _outside_requests(result) -> list[str]:
    """Requests other than the page's own file:// URL and data: URIs, plus connection hints."""
    bad = [f"{r['method']} {r['url']} ({r['type']})" for r in result["requests"]
           if r["url"] != result["url"] and not r["url"].startswith("data:")]
    return bad + [f"<link rel=preconnect|dns-prefetch> {h}" for h in result["dom"]["hints"]]


def _errors(result) -> list[str]:
    return ([f"console.{m['type']} : {m['text']} ({m['location']})" for m in result["console"] if m["type"] == "error"]
            + [f"erreur de page : {e}" for e in result["pageErrors"]])


def _describe(violations) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
                            for n in v["nodes"][:3])
        lines.append(f"- {v['id']} [{v['impact']}] {v['help']} — {len(v['nodes'])} élément(s), p. ex. {targets}"
                     f"\n    {v['nodes'][0]['html'][:200]}\n    {v['helpUrl']}")
    return "\n".join(lines)


def _heading_skips(headings) -> list[str]:
    skips, previous = [], 0
    for h in headings:
        if h["level"] > previous + 1:
            skips.append(f"h{previous or '-'} -> {h['tag']} (niveau {h['level']}) « {h['text']} » id={h['id']!r}")
        previous = h["level"]
    return skips


def _images_without_alt(images) -> list[str]:
    return [f"<img src={i['src'][:40]!r}… alt={i['alt']!r}>" for i in images if not (i["alt"] or "").strip()]


def _tables_without_th(tables) -> list[str]:
    return [f"tableau n° {t['index'] + 1} « {t['caption']} » id={t['id']!r}" for t in tables if t["th"] == 0]


@pytest.mark.parametrize("name", PAGES)
def test_no_network_request(checked, name):
    result = _page(checked, name)
    assert any(r["url"] == result["url"] for r in result["requests"]), "la requête du document n’a pas été vue"
    bad = _outside_requests(result)
    assert not bad, f"{name} fait des requêtes hors de son propre fichier :\n" + "\n".join(bad)


@pytest.mark.parametrize("name", PAGES)
def test_no_console_error_nor_page_error(checked, name):
    result = _page(checked, name)
    errors = _errors(result)
    assert not errors, f"{name} :\n" + "\n".join(errors)


@pytest.mark.parametrize("name", PAGES)
def test_axe_no_serious_or_critical_violation(checked, name):
    result = _page(checked, name)
    axe = result["axe"]
    assert axe["version"] and len(axe["passes"]) >= 20, f"axe-core ne semble pas avoir tourné : {axe}"
    blocking = [v for v in axe["violations"] if v["impact"] in BLOCKING]
    others = [v for v in axe["violations"] if v["impact"] not in BLOCKING]
    if others:
        warnings.warn(f"axe-core {axe['version']}, {name}, violations mineures ou modérées :\n{_describe(others)}",
                      stacklevel=1)
    assert not blocking, (f"axe-core {axe['version']} : violations graves ou critiques dans {name} :\n"
                          + _describe(blocking))


@pytest.mark.parametrize("name", PAGES)
def test_html_lang_fr(checked, name):
    assert _page(checked, name)["dom"]["lang"] == "fr"


@pytest.mark.parametrize("name", PAGES)
def test_exactly_one_h1(checked, name):
    h1 = [h for h in _page(checked, name)["dom"]["headings"] if h["level"] == 1]
    assert len(h1) == 1, f"{name} : {len(h1)} titre(s) de niveau 1 : {[h['text'] for h in h1]}"


@pytest.mark.parametrize("name", PAGES)
def test_heading_levels_never_skip(checked, name):
    headings = _page(checked, name)["dom"]["headings"]
    assert headings, f"{name} : aucun titre"
    skips = _heading_skips(headings)
    assert not skips, f"{name} : niveaux de titre sautés :\n" + "\n".join(skips)


@pytest.mark.parametrize("name", PAGES)
def test_every_img_has_alt(checked, name):
    images = _page(checked, name)["dom"]["images"]
    bad = _images_without_alt(images)
    assert not bad, f"{name} : image(s) sans texte alternatif :\n" + "\n".join(bad)


@pytest.mark.parametrize("name", PAGES)
def test_every_table_has_header_cells(checked, name):
    tables = _page(checked, name)["dom"]["tables"]
    bad = _tables_without_th(tables)
    assert not bad, f"{name} : tableau(x) sans cellule d’en-tête <th> :\n" + "\n".join(bad)


def test_report_has_images_and_tables(checked):
    """The checks above are not vacuous: the whole report does have figures and tables."""
    dom = _page(checked, PAGES[0])["dom"]
    assert len(dom["images"]) >= 4 and len(dom["tables"]) >= 4


def test_harness_detects_every_kind_of_fault(checked):
    """The canary page breaks every rule once: each check must see its fault."""
    result = _page(checked, "canari.html")
    bad = _outside_requests(result)
    assert any("https://example.invalid/image.png" in b for b in bad), bad
    assert any("http://example.invalid/fond.png" in b for b in bad), bad
    assert any("preconnect" in b for b in bad), bad
    errors = _errors(result)
    assert any("erreur canari" in e for e in errors) and any("exception canari" in e for e in errors), errors
    ids = {v["id"]: v["impact"] for v in result["axe"]["violations"]}
    assert ids.get("image-alt") == "critical" and ids.get("html-has-lang") == "serious", ids
    dom = result["dom"]
    assert dom["lang"] is None
    assert not [h for h in dom["headings"] if h["level"] == 1]
    assert len(_heading_skips(dom["headings"])) == 2  # (start) -> h2, h2 -> h4
    assert len(_images_without_alt(dom["images"])) == 1
    assert len(_tables_without_th(dom["tables"])) == 1


@pytest.mark.parametrize("name", PAGES)
def test_nothing_overflows_the_page_on_a_phone(checked, name):
    """At 390 px a wide table or chart scrolls inside its own box: the page itself never scrolls sideways."""
    layout = _page(checked, name)["layout"]["390"]
    assert layout["scrollWidth"] <= layout["viewport"] and not layout["overflowing"], \
        f"{name} déborde à 390 px ({layout['scrollWidth']} px) : {layout['overflowing']}"


@pytest.mark.parametrize("name", PAGES)
def test_chart_text_stays_readable_on_a_phone(checked, name):
    charts = _page(checked, name)["layout"]["390"]["charts"]
    small = [f"{c['id']} ({c['scale']:.2f})" for c in charts if c["scale"] < MIN_CHART_SCALE]
    assert not small, f"{name} : graphiques réduits sous {MIN_CHART_SCALE:.2f} de leur taille (texte < 11 px) : {small}"


@pytest.mark.parametrize("name", PAGES)
def test_screenshots_at_phone_and_desk_widths(checked, name):
    for width in ("390", "1280"):
        shot = Path(_page(checked, name)["layout"][width]["screenshot"])
        assert shot.is_file() and shot.stat().st_size > 5000, shot


@pytest.mark.parametrize("name", PAGES)
def test_annexes_and_top_reachable_from_every_page(checked, name):
    layout = _page(checked, name)["layout"]["390"]
    assert layout["annexLink"], f"{name} : aucun lien vers les annexes"
    if name != "provenance.html":
        assert layout["backToTop"], f"{name} : pas de retour en haut de page"


@pytest.mark.parametrize("name", CHAPTER_PAGES)
def test_chapter_page_marks_itself_and_links_its_neighbours(checked, name):
    layout = _page(checked, name)["layout"]["1280"]
    assert len(layout["current"]) == 1, f"{name} : chapitre courant non marqué ({layout['current']})"
    i = CHAPTER_PAGES.index(name)
    assert layout["prev"] == (i > 0) and layout["next"] == (i < len(CHAPTER_PAGES) - 1), layout


def test_contents_stay_beside_the_text_on_a_desk(checked):
    layout = _page(checked, PAGES[0])["layout"]
    assert layout["1280"]["tocPosition"] == "sticky" and layout["390"]["tocPosition"] == "static"
