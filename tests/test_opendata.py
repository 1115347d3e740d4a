"""The real open data shipped with the project: every file listed with its source and checksum."""
import hashlib

import pytest
import yaml

from helpers import config
from helpers.data.series import load_childcare, load_dep_series
from helpers.indicators.portrait import index_series
from helpers.params import resolve

OPENDATA = config.DATA_DIR / "opendata"


def _entries():
    return yaml.safe_load((OPENDATA / "SOURCES.yaml").read_text(encoding="utf-8"))["fichiers"]


def test_every_file_is_listed_with_its_source_licence_and_checksum():
    listed = {e["fichier"]: e for e in _entries()}
    present = {str(p.relative_to(OPENDATA)) for p in OPENDATA.rglob("*")
               if p.is_file() and p.name not in ("SOURCES.yaml", "LISEZMOI.md")}
    assert present == set(listed)
    for name, e in listed.items():
        assert hashlib.sha256((OPENDATA / name).read_bytes()).hexdigest() == e["sha256"], name
        for field in ("jeu", "nature", "republie_par", "licence", "attribution", "date"):
            assert str(e.get(field, "")).strip(), (name, field)
    # a re-laid file is never presented as an untouched export
    assert "remis en forme" in listed["17/cafdata/s_ben_com_f_17.csv"]["nature"]


def test_defaults_are_the_real_data_then_the_cache_and_demo_only_on_request():
    r = resolve(2023)
    assert r.params.cafdata_dir == OPENDATA / "17" / "cafdata" and "intégrées" in r.origins["cafdata_dir"]
    assert r.params.geo_dir == OPENDATA / "17" / "geo"
    assert r.params.published["foyers_allocataires"] == 121067  # from data/reference/publies/17/2023.yaml
    d = resolve(2023, overrides={"demo": True})
    assert d.params.cafdata_dir == config.DATA_DIR / "demo" and d.params.geo_dir is None
    g = resolve(2023, "33")
    assert g.params.cafdata_dir is None and g.params.published == {}


def test_af_cf_series_department_region_france():
    s = load_dep_series(OPENDATA / "national", "17", config.DATA_DIR / "reference")
    assert s.region_name == "Nouvelle-Aquitaine" and s.n_departements == 100
    f = s.frame.set_index(["annee", "prestation", "territoire"]).foyers
    # December 2016 and 2023, summed over the majoration modalities (technical rows dropped)
    assert f[2016, "AF", "departement"] == 39298 and f[2023, "AF", "departement"] == 38186
    assert f[2016, "AF", "france"] == 4873153 and f[2023, "CF", "region"] == 55711
    idx = index_series(s, 2016, 2023)
    assert idx[(idx.annee == 2016)].indice.eq(100).all()


def test_childcare_coverage():
    c = load_childcare(OPENDATA / "17")
    assert c.year == 2023
    assert c.value("epci", "241700459") == pytest.approx(96.7)  # CC de l'Île de Ré
    assert (c.value("departement", "17"), c.value("region", "75"), c.value("france", "FR")) == (75.1, 66.2, 60.9)
