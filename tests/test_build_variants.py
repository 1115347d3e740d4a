"""Other builds: another year, another département, a register error, JupyterLab's Run All."""
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import write
from helpers import cli, config

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]


def test_year_2022_computes_its_own_figures(tmp_path):
    out = tmp_path / "2022"
    assert cli.main(["-q", "build", "--year", "2022", "--out", str(out), "--formats", "html"]) == 0
    html = (out / "rapport-2022.html").read_text(encoding="utf-8")
    assert "Données au 31\u00a0décembre\u00a02022" in html
    assert "7 des 13 EPCI" in html  # CTG register at 31/12/2022
    assert "122\u202f600" in html  # demo foyers, December 2022


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
    assert "73\u202f900" in html  # 61 500 + 12 100 + 300 non-localised
    assert html.count("Aucun registre") == 2  # CTG and cooperation say so plainly
    assert "Charente-Maritime" not in html.split("<main", 1)[1]


def test_register_error_stops_build_before_any_kernel(tmp_path, monkeypatch, capsys):
    import helpers.build as build

    monkeypatch.setattr(build, "execute", lambda *a, **k: (_ for _ in ()).throw(AssertionError("noyau démarré")))
    reg = tmp_path / "registres"
    shutil.copytree(ROOT / "data" / "registers", reg)
    path = reg / "17" / "ctg.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("2023-06-19", "2023-02-30"), encoding="utf-8")
    out = tmp_path / "out"
    code = cli.main(["-q", "build", "--year", "2023", "--set", f"registers_dir={reg}", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "ctg.csv, ligne 12, colonne « date_signature » : date invalide" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["01_portrait.ipynb", "02_ctg.ipynb", "03_cooperation.ipynb"])
def test_run_all_with_defaults_like_jupyterlab(name):
    """The notebooks as committed, executed top to bottom with their `parameters` cell."""
    nb = nbformat.read(config.NOTEBOOKS_DIR / name, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}}).execute()
    html = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "31\u00a0décembre\u00a02023" in html
    assert not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_real_open_data_with_maps(shared_cafdata, shared_geo, tmp_path):
    """The real Cafdata figures of the 462 communes and the real boundaries, read as they are."""
    out = tmp_path / "reel"
    code = cli.main(["-q", "build", "--year", "2023", "--set", f"cafdata_dir={shared_cafdata}",
                     "--set", f"geo_dir={shared_geo}", "--out", str(out), "--formats", "html",
                     "--chapters", "portrait"])
    assert code == 0
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert "<strong>271\u202f945 personnes</strong>" in html  # sum of the real communes
    assert "arrondis à 5" in html
    assert 'id="carte-epci"' in html and 'id="carte-communes"' in html
    assert "chapitre illustratif" not in html and "avertissement illustratif" not in html
    annex = html.split('id="annexe-publies"', 1)[1]
    assert "121\u202f067" in annex and "122\u202f955" in annex and "+1\u202f888" in annex


def test_sources_annex_lists_the_fetch_manifest(tmp_path):
    import json

    from helpers.build import _downloads
    from helpers.params import resolve

    (tmp_path / "cafdata").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"departement": "17", "annee": 2023, "fichiers": [
        {"fichier": "cafdata/s_ben_com_f_17.csv", "adresse": "https://exemple.invalid/exports/csv?where=x",
         "date": "2026-11-26T10:00:00+01:00", "taille": 1234, "sha256": "ab" * 32}]}), encoding="utf-8")
    html = _downloads(resolve(2023, overrides={"cafdata_dir": str(tmp_path / "cafdata")}))
    assert "cafdata/s_ben_com_f_17.csv" in html and "ab" * 32 in html and "1\u202f234" in html
