"""Other builds: another year, another département, a register error, JupyterLab's Run All."""
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import write
from nbclient import NotebookClient

from helpers import cli, config

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]


def test_year_2022_computes_its_own_figures(tmp_path):
    out = tmp_path / "2022"
    assert cli.main(["-q", "build", "--year", "2022", "--out", str(out), "--formats", "html"]) == 0
    html = (out / "rapport-2022.html").read_text(encoding="utf-8")
    assert "Données au 31\u00a0décembre\u00a02022" in html
    assert "7 des 13 EPCI" in html  # CTG register at 31/12/2022
    assert "123\u202f845" in html  # real foyers (sum of communes), December 2022


def test_other_departement_without_register(tmp_path):
    data = tmp_path / "gironde"
    write(data / "s_ben_com_f_33.csv",
          "dtreffre;numcomdo;nomcom;indfoy_ndur;indnbp_ndur;indfoy_rsa\n"
          "2021-12;33063;Bordeaux;61000.0;120500.0;9000\n2021-12;33281;Mérignac;12000;27000;1500\n"
          "2022-12;33063;Bordeaux;61500.0;121000.0;9100\n2022-12;33281;Mérignac;12100;27300;1550\n"
          "2022-12;;;300;600;40\n", bom=True)
    out = tmp_path / "out"
    code = cli.main(["-q", "build", "--year", "2022", "--departement", "33", "--set", f"cafdata_dir={data}",
                     "--out", str(out), "--formats", "html"])
    assert code == 0
    html = (out / "rapport-2022.html").read_text(encoding="utf-8")
    assert "Caf de la Gironde" in html
    assert "73\u202f600" in html  # 61 500 + 12 100; the 300 non-localised are national, not the Gironde's
    # CTG and cooperation each say, in one line, which register the Caf must fill
    assert html.count("à remplir par la Caf de la Gironde") == 4  # in each chapter, and in the method annex
    assert "data/registers/33/ctg.csv" in html and "data/registers/33/postes_cooperation.csv" in html
    assert "caf-de-la-charente-maritime" not in html  # no other Caf's publication
    assert "Charente-Maritime" not in html.split("<main", 1)[1]
    annex = html.split('id="annexe-publies"', 1)[1]
    assert "Aucun chiffre publié" in annex and "121\u202f067" not in annex  # never the Charente-Maritime's


def test_departement_without_data_stops_before_any_kernel_with_the_fetch_command(tmp_path, monkeypatch, terminal):
    import helpers.build as build

    monkeypatch.setattr(build, "execute", lambda *a, **k: (_ for _ in ()).throw(AssertionError("noyau démarré")))
    out = tmp_path / "out"
    code = cli.main(["-q", "build", "--year", "2023", "--departement", "33", "--out", str(out)])
    err = terminal.readouterr().err
    assert code == 1
    assert "aucune donnée Cafdata pour le département 33" in err
    assert "rapport fetch --year 2023 --departement 33" in err
    assert not out.exists()


def test_export_with_technical_and_national_rows_builds_and_says_so(real_cafdata, tmp_path):
    """A real-layout export with a technical duplicate row and a national empty-code row."""
    data = tmp_path / "exports"
    data.mkdir()
    text = (real_cafdata / "s_ben_com_f_17.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    header = lines[0].split(";")
    real = next(row for row in lines[1:] if row.startswith("2023-12;17300;"))
    tech = real.split(";")[:3] + ["5"] * (len(header) - 3)
    national = ["2023-12", "", ""] + ["40"] * (len(header) - 3)
    (data / "s_ben_com_f_17.csv").write_text("\ufeff" + "\n".join(lines + [";".join(tech), ";".join(national)]) + "\n",
                                             encoding="utf-8")
    out = tmp_path / "out"
    code = cli.main(["-q", "build", "--year", "2023", "--set", f"cafdata_dir={data}", "--out", str(out),
                     "--formats", "html", "--chapters", "portrait"])
    assert code == 0
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert "<strong>271\u202f945 personnes</strong>" in html  # neither the technical nor the national row counted
    sources = (out / "provenance.html").read_text(encoding="utf-8").split('id="sources-detail"', 1)[1]
    assert "1 ligne technique écartée" in sources and "décembre\u00a02023 (code 17300)\u00a0: 5 à côté de" in sources
    assert "40 foyers en décembre 2023" in sources


def test_register_error_stops_build_before_any_kernel(tmp_path, monkeypatch, terminal):
    import helpers.build as build

    monkeypatch.setattr(build, "execute", lambda *a, **k: (_ for _ in ()).throw(AssertionError("noyau démarré")))
    reg = tmp_path / "registres"
    shutil.copytree(ROOT / "data" / "registers", reg)
    path = reg / "17" / "ctg.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("2023-06-19", "2023-02-30"), encoding="utf-8")
    out = tmp_path / "out"
    code = cli.main(["-q", "build", "--year", "2023", "--set", f"registers_dir={reg}", "--out", str(out)])
    err = terminal.readouterr().err
    assert code == 1
    assert "ctg.csv, ligne 12, colonne « date_signature » : date invalide" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["01_portrait.ipynb", "02_ctg.ipynb", "03_cooperation.ipynb", "04_territoire.ipynb"])
def test_run_all_with_defaults_like_jupyterlab(name):
    """The notebooks as committed, executed top to bottom with their `parameters` cell."""
    nb = nbformat.read(config.NOTEBOOKS_DIR / name, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}}).execute()
    html = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "31\u00a0décembre\u00a02023" in html
    assert not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_real_open_data_with_maps_by_default(tmp_path):
    """Without any option: the real Cafdata figures of the 462 communes and the real boundaries."""
    out = tmp_path / "reel"
    code = cli.main(["-q", "build", "--year", "2023", "--out", str(out), "--formats", "html",
                     "--chapters", "portrait"])
    assert code == 0
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert "<strong>271\u202f945 personnes</strong>" in html  # sum of the real communes
    assert "arrondis à 5" in html
    assert 'id="carte-epci"' in html and 'id="carte-communes"' in html
    portrait = html.split('id="ch-portrait"', 1)[1].split("</section>", 1)[0]
    assert "avertissement illustratif" not in portrait and "chapitre illustratif" not in html
    annex = html.split('id="annexe-publies"', 1)[1]
    real = annex.split("Reproduits par construction")[0]
    assert "121\u202f067" in real and "122\u202f955" in real and "+1\u202f888" in real
    assert "l’écart la dépasse" in real  # 1 888 > 2,5 × 462: rounding cannot explain it, said so
    # the EPCI table: real rates, CC de l'Île de Ré last
    from bs4 import BeautifulSoup

    rows = BeautifulSoup(html, "html.parser").select("#tab-epci tbody tr:not(.total)")
    assert len(rows) == 13 and "Île de Ré" in rows[-1].get_text() and "29" in rows[-1].get_text()
    assert 'id="fig-af-cf"' in html and "Nouvelle-Aquitaine" in html


def test_sources_annex_lists_the_fetch_manifest(tmp_path):
    import json

    from helpers.build import _downloads
    from helpers.params import resolve

    (tmp_path / "cafdata").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"departement": "17", "annee": 2023, "fichiers": [
        {"fichier": "cafdata/s_ben_com_f_17.csv", "adresse": "https://exemple.invalid/exports/csv?where=x",
         "date": "2026-11-26T10:00:00+01:00", "taille": 1234, "sha256": "ab" * 32}]}), encoding="utf-8")
    html = _downloads(resolve(2023, overrides={"cafdata_dir": str(tmp_path / "cafdata")})).replace("<wbr/>", "")
    assert "cafdata/s_ben_com_f_17.csv" in html and "ab" * 32 in html and "1\u202f234" in html
