"""Two audiences, two documents: the report keeps a short provenance paragraph; the technical
detail is published beside it (provenance.html, provenance.json); no output shows a folder of
the building machine."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pypdf import PdfReader
from reader_build import full_build

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return full_build(tmp_path_factory)


@pytest.mark.e2e  # a full build
def test_detail_is_published_beside_the_report(built):
    data = json.loads((built / "provenance.json").read_text(encoding="utf-8"))
    assert data["annee"] == 2023 and len(data["commit"]) >= 7
    assert {"cle", "valeur", "origine"} <= set(data["parametres"][0])
    files = {f["fichier"]: f for f in data["fichiers"]}
    exported = next(k for k in files if k.endswith("s_ben_com_f_17.csv"))
    real = ROOT / "data" / "opendata" / "17" / "cafdata" / "s_ben_com_f_17.csv"
    assert files[exported]["sha256"] == hashlib.sha256(real.read_bytes()).hexdigest()
    assert "pandas" in data["logiciels"] and data["millesimes"]
    page = (built / "provenance.html").read_text(encoding="utf-8")
    assert "Empreinte SHA-256" in page and "Paramètres de la construction" in page


@pytest.mark.e2e  # a full build
def test_report_keeps_a_short_readable_paragraph(built):
    html = (built / "rapport-2023.html").read_text(encoding="utf-8")
    annex = html.split('id="annexe-provenance"', 1)[1]
    assert "SHA-256 de chaque fichier" in annex and "Empreinte SHA-256" not in annex
    assert "Cafdata" in annex and "construit le" in annex and 'href="provenance.html"' in annex


@pytest.mark.e2e  # a full build
def test_no_output_shows_a_folder_of_the_building_machine(built):
    forbidden = {str(ROOT), str(ROOT.resolve()), "/tmp/", str(built.parent), str(built.parent.resolve())}
    for f in built.rglob("*"):
        if not f.is_file():
            continue
        text = (" ".join(p.extract_text() for p in PdfReader(f).pages) if f.suffix == ".pdf"
                else f.read_text(encoding="utf-8", errors="replace"))
        found = [x for x in forbidden if x in text]
        assert not found, f"{f.relative_to(built)} : {found}"
