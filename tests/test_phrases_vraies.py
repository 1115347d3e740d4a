"""Every sentence holds for the year and the département it is built for (issue 20, item 7): reports of
other years of the 17 and of other départements (real shipped commune files) are built and read back
for statements that their data do not support."""
import html
import re
from pathlib import Path

import pytest

from helpers import cli

pytestmark = pytest.mark.e2e


def _text(path: Path) -> str:
    t = re.sub(r"<script.*?</script>|<style.*?</style>", " ", path.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", t)))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = {}
    for year, dep in ((2020, "17"), (2021, "17"), (2024, "17"), (2023, "2A"), (2023, "13")):
        folder = tmp_path_factory.mktemp(f"r{year}-{dep}") / "out"
        assert cli.main(["-q", "build", "--year", str(year), "--departement", dep, "--out", str(folder),
                         "--formats", "html"]) == 0, (year, dep)
        out[(year, dep)] = folder
    return out


def _all_text(folder: Path) -> str:
    return " ".join(_text(p) for p in sorted(folder.glob("*.html")))


@pytest.mark.parametrize("dep", ["2A", "13"])
def test_another_caf_never_names_the_charente_maritime_nor_links_to_its_pages(built, dep):
    folder = built[(2023, dep)]
    text = _all_text(folder)
    assert "Charente" not in text and "La Rochelle" not in text
    for p in folder.glob("*.html"):
        assert "charente-maritime" not in p.read_text(encoding="utf-8").lower(), p.name


@pytest.mark.parametrize("year", [2020, 2021])
def test_no_event_told_before_it_happened(built, year):
    text = _all_text(built[(year, "17")])
    assert "contrats enfance jeunesse" not in text  # their end is dated 2023 in the register of events
    assert "réseau départemental" not in text  # the network starts in 2022 in the register
    assert "Portrait social" not in text or "édition 2024" not in text
    assert "pour 2023" not in text  # no banner about the 2023 totals


def test_a_later_year_tells_past_events_in_the_past(built):
    text = _all_text(built[(2024, "17")])
    assert "L’année 2023 a été marquée" not in text
    if "contrats enfance jeunesse" in text:
        assert "Depuis la fin des contrats enfance jeunesse" in text


@pytest.mark.parametrize("key", [(2021, "17"), (2023, "2A"), (2023, "13")])
def test_no_reference_to_an_annex_without_its_content(built, key):
    text = _all_text(built[key])
    if "voir l’annexe 2" in text:
        annex = text[text.index("Annexe 2 —", text.index("voir l’annexe 2")):]
        assert "Aucun chiffre publié" not in annex[:400]


@pytest.mark.parametrize("key", [(2020, "17"), (2021, "17"), (2024, "17"), (2023, "2A"), (2023, "13")])
def test_no_heading_without_content(built, key):
    """A heading is followed by something before the next heading of its level or higher."""
    for p in sorted(built[key].glob("rapport-*.html")):
        page = p.read_text(encoding="utf-8")
        main = page[page.find("<main"):page.rfind("</main>")] if "<main" in page else page
        tags = list(re.finditer(r"<h([1-4])\b[^>]*>(.*?)</h\1>|<(p|table|figure|ul|ol|img|aside|dl)\b", main, re.S))
        for a, b in zip(tags, tags[1:] + [None]):
            if a.group(1) is None:
                continue
            level = int(a.group(1))
            empty = b is None or (b.group(1) is not None and int(b.group(1)) <= level)
            assert not empty, f"{p.name} : titre sans contenu « {re.sub('<[^>]+>', '', a.group(2)).strip()} »"
