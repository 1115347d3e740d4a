"""Boundaries are checked before any kernel; broken optional geography leaves the maps out (with a
line in the annex), never a broken map."""
import json
import shutil
from pathlib import Path

import pytest

from helpers.data.geo import load_geo

GEO = Path(__file__).resolve().parents[1] / "data" / "opendata" / "17" / "geo"


@pytest.fixture
def geo(tmp_path):
    d = tmp_path / "geo"
    shutil.copytree(GEO, d)
    return d


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _swap(c):
    return [_swap(x) for x in c] if isinstance(c[0], list) else [c[1], c[0]]


def test_the_shipped_boundaries_pass():
    assert load_geo(GEO, "17").validate() == []


@pytest.mark.parametrize("case, expected", [
    ("tronque", "fichier GeoJSON illisible"),
    ("inverse", "longitude et latitude semblent inversées"),
    ("sans_geometrie", "géométrie absente pour siren"),
    ("doublon", "plusieurs entités pour le même siren"),
    ("population", "population non numérique (valeur « n.d. »)"),
])
def test_broken_boundaries_are_named(geo, case, expected):
    epci = geo / "epci_17.geojson"
    if case == "tronque":
        epci.write_text(epci.read_text(encoding="utf-8")[:500], encoding="utf-8")
    elif case == "inverse":
        _edit(epci, lambda d: [f["geometry"].update(coordinates=_swap(f["geometry"]["coordinates"])) for f in d["features"]])
    elif case == "sans_geometrie":
        _edit(epci, lambda d: d["features"][0].update(geometry=None))
    elif case == "doublon":
        _edit(epci, lambda d: d["features"].append(d["features"][0]))
    elif case == "population":
        comp = next(geo.glob("epci_17_composition_*.csv"))
        lines = comp.read_text(encoding="utf-8").splitlines()
        header = lines[0].split(",")
        i = header.index("pmun")
        row = lines[5].split(",")
        row[i] = "n.d."
        lines[5] = ",".join(row)
        comp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = load_geo(geo, "17").validate()
    assert any(expected in str(p) for p in problems), problems


def test_broken_outlines_are_refused_never_skipped(geo, tmp_path, terminal):
    """Present but wrong: refused by check and build alike, with the file and the feature; nothing published."""
    from helpers import cli

    _edit(geo / "epci_17.geojson", lambda d: d["features"][0].update(geometry=None))
    out = tmp_path / "out"
    for command in (["check"], ["build", "--out", str(out), "--formats", "html", "--chapters", "portrait"]):
        assert cli.main(["-q", *command, "--year", "2023", "--set", f"geo_dir={geo}"]) == 1
        err = terminal.readouterr().err
        assert "epci_17.geojson" in err and "géométrie absente pour siren" in err, err
        assert "contours présents mais inutilisables" in err
    assert not out.exists()


def test_absent_outlines_leave_the_maps_out_and_say_why(tmp_path):
    """A boundaries folder with nothing for the département: no maps, and Annexe 1 says so."""
    from helpers import cli

    empty = tmp_path / "contours"
    empty.mkdir()
    out = tmp_path / "out"
    assert cli.main(["-q", "build", "--year", "2023", "--set", f"geo_dir={empty}", "--out", str(out),
                     "--formats", "html", "--chapters", "portrait"]) == 0
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert 'id="carte-epci"' not in html and 'id="carte-communes"' not in html
    assert "les cartes sont omises" in html
