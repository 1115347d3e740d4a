"""`rapport fetch` against a local HTTP server whose answers are scripted per path.

No request leaves the machine: the server listens on 127.0.0.1 (port chosen by the system) and
serves the files of tests/fixtures/fetch in the layouts of data.caf.fr and geo.api.gouv.fr.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from helpers import cli, config, fmt
from helpers.data import fetch
from helpers.data.cafdata import communes_year, load_cafdata, read_export, totals
from helpers.data.geo import load_geo
from helpers.data.reference import load_reference
from helpers.errors import DataError

FIX = Path(__file__).resolve().parent / "fixtures" / "fetch"
NOW = dt.datetime(2026, 3, 15, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
GEO_YEAR = 2025  # the fixtures' populations are those in force in 2025: the service still serves 2025 in March 2026
DGCL_2025 = "DGCL epcicom2025 (paquet npm @etalab/decoupage-administratif 5.3.0, data/epci.json)"
EXPORT = "/api/explore/v2.1/catalog/datasets/{}/exports/csv"
DEP_PATH, COM_PATH, EPCI_PATH = (EXPORT.format(d) for d in ("s_ben_dep", "s_ben_com_f", "s_ben_epci_f"))
COMMUNES_PATH, EPCIS_PATH = "/departements/17/communes", "/epcis"
SIRENS_17 = ["200036473", "200041499", "200041523", "200041614", "200041689", "200041762", "241700434",
             "241700459", "241700517", "241700624", "241700632", "241700640", "241700699"]
FILES = ["cafdata/s_ben_dep_17.csv", "cafdata/s_ben_com_f_17.csv", "cafdata/s_ben_epci_f_17.csv",
         f"geo/communes_17_{GEO_YEAR}.geojson", "geo/epci_17.geojson", "geo/epci_17.csv",
         f"geo/epci_17_composition_{GEO_YEAR}.csv"]


fr = fetch._fr  # French typography of the messages: no-break spaces before « : », « ; » and inside guillemets


def fixture(name: str) -> bytes:
    return (FIX / name).read_bytes()


def ok(body: bytes, ctype: str = "text/csv; charset=utf-8") -> dict:
    return {"status": 200, "body": body, "ctype": ctype}


def geojson(name: str) -> dict:
    return ok(fixture(name), "application/geo+json")


# ---------------------------------------------------------------- the scripted server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (name imposed by http.server)
        parts = urlsplit(self.path)
        script = self.server.script
        with script.lock:
            script.requests.append((parts.path, parse_qs(parts.query, keep_blank_values=True)))
            actions = script.routes.get(parts.path)
            act = (actions.pop(0) if len(actions) > 1 else actions[0]) if actions else {"status": 404, "body": b"{}"}
        try:
            if act.get("delay"):
                time.sleep(act["delay"])
            body = act.get("body", b"")
            self.send_response(act.get("status", 200))
            self.send_header("Content-Type", act.get("ctype", "application/json"))
            for k, v in act.get("headers", {}).items():
                self.send_header(k, v)
            if act.get("truncate"):
                # announce more than is sent, send half, then close the connection
                self.send_header("Content-Length", str(len(body) + 500))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.close_connection = True

    def log_message(self, *args):
        pass


class Script:
    def __init__(self):
        self.lock = threading.Lock()
        self.routes: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, dict]] = []

    def set(self, path: str, *actions: dict) -> None:
        """Answers for `path`, in order; the last one is repeated."""
        self.routes[path] = list(actions)

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def query(self, path: str) -> dict:
        return next(q for p, q in self.requests if p == path)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.script = Script()
    httpd.script.set(DEP_PATH, ok(fixture("s_ben_dep_17.csv")))
    httpd.script.set(COM_PATH, ok(fixture("s_ben_com_f_17.csv")))
    httpd.script.set(EPCI_PATH, ok(fixture("s_ben_epci_f_17.csv")))
    httpd.script.set(COMMUNES_PATH, geojson("communes_17.geojson"))
    httpd.script.set(EPCIS_PATH, geojson("epcis_17.geojson"))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def fast_and_local(monkeypatch):
    monkeypatch.setattr(fetch, "BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(fetch, "_now", lambda: NOW)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    logger = logging.getLogger("rapport")
    handlers = list(logger.handlers)
    yield
    logger.handlers[:] = handlers  # cli.main adds a handler on each call


def run(server, out: Path, *extra: str, year: str = "2023") -> int:
    return cli.main(["fetch", "--year", year, "--cafdata-url", server.url, "--geo-url", server.url,
                     "--out", str(out), "--timeout", "2", "--retries", "3", *extra])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def previous_cache(out: Path) -> dict[str, bytes]:
    """A cache from an earlier fetch: different bytes at the same paths, a file the new fetch
    would retire, a file of the user's, and its manifest."""
    files = {rel: f"ancien contenu de {rel}\n".encode() for rel in FILES}
    files["geo/communes_17_2024.geojson"] = b'{"ancien": true}\n'
    files["cafdata/configuration_familiale_17.csv"] = b"fichier de l'utilisateur\n"
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    listed = [rel for rel in files if "configuration" not in rel]
    manifest = {"departement": "17", "annee": 2022, "date": "2025-06-01T09:00:00+02:00",
                "fichiers": [{"fichier": rel, "adresse": "http://ancienne.adresse/", "date": "2025-06-01T09:00:00+02:00",
                              "taille": len(files[rel]), "sha256": hashlib.sha256(files[rel]).hexdigest()}
                             for rel in listed]}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return snapshot(out)


def assert_untouched(out: Path, before: dict[str, bytes]) -> None:
    assert snapshot(out) == before
    leftovers = [p.name for p in out.parent.iterdir() if p.name != out.name]
    assert leftovers == [], f"dossiers temporaires restés : {leftovers}"


# ---------------------------------------------------------------- success


def test_success_writes_files_manifest_and_command(server, tmp_path, terminal):
    out = tmp_path / "cache"
    assert run(server, out) == 0
    captured = terminal.raw_readouterr()
    printed = captured.out

    # the Cafdata exports and the communes are kept exactly as received
    assert (out / "cafdata/s_ben_dep_17.csv").read_bytes() == fixture("s_ben_dep_17.csv")
    assert (out / "cafdata/s_ben_com_f_17.csv").read_bytes() == fixture("s_ben_com_f_17.csv")
    assert (out / "cafdata/s_ben_epci_f_17.csv").read_bytes() == fixture("s_ben_epci_f_17.csv")
    assert (out / f"geo/communes_17_{GEO_YEAR}.geojson").read_bytes() == fixture("communes_17.geojson")

    # exact queries received by the server
    assert server.script.query(DEP_PATH) == {"delimiter": [";"], "with_bom": ["true"], "where": ['numdep="17"']}
    assert server.script.query(COM_PATH)["where"] == ['startswith(numcomdo, "17")']
    assert server.script.query(EPCI_PATH)["where"] == [
        "numepci in (" + ", ".join(f'"{s}"' for s in SIRENS_17) + ")"]
    assert server.script.query(COMMUNES_PATH) == {"format": ["geojson"], "geometry": ["contour"],
                                                  "fields": ["code,nom,population,codeEpci"]}
    assert server.script.query(EPCIS_PATH) == {"codeDepartement": ["17"], "format": ["geojson"],
                                               "geometry": ["contour"], "fields": ["code,nom,type,population"]}

    # manifest: one entry per file with its address, size and sha256
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["departement"] == "17" and manifest["annee"] == 2023
    # the year of the geography, read from the answer (its populations are the 2025 ones), and its warning
    assert (manifest["millesime_geographie"], manifest["millesime_geographie_verifie"]) == (2025, True)
    assert manifest["millesime_geographie_origine"] == (
        "lue dans la réponse (populations des communes identiques à celles en vigueur en 2025, "
        "data/reference/communes.csv)")
    assert (manifest["millesime_communes_service"], manifest["millesime_epci_service"]) == (2025, 2025)
    assert manifest["epci"][1] == {"siren": "241700434", "nom": "CA de La Rochelle", "type": "CA",
                                   "origine_type": fr("champ « type » de l’API"), "population": 181057,
                                   "source_population": DGCL_2025, "population_service": 181057}
    assert dt.datetime.fromisoformat(manifest["date"]).tzinfo is not None
    entries = {e["fichier"]: e for e in manifest["fichiers"]}
    assert sorted(entries) == sorted(FILES)
    for rel, e in entries.items():
        data = (out / rel).read_bytes()
        assert e["taille"] == len(data)
        assert e["sha256"] == hashlib.sha256(data).hexdigest()
        assert dt.datetime.fromisoformat(e["date"]).tzinfo is not None
    assert entries["cafdata/s_ben_com_f_17.csv"]["adresse"] == (
        f"{server.url}{COM_PATH}?delimiter=%3B&with_bom=true&where=startswith%28numcomdo,%20%2217%22%29")
    assert entries["cafdata/s_ben_dep_17.csv"]["adresse"] == (
        f"{server.url}{DEP_PATH}?delimiter=%3B&with_bom=true&where=numdep%3D%2217%22")
    assert entries[f"geo/communes_17_{GEO_YEAR}.geojson"]["adresse"] == (
        f"{server.url}/departements/17/communes?format=geojson&geometry=contour&fields=code,nom,population,codeEpci")
    assert entries["geo/epci_17.csv"]["adresse"] == (
        f"{server.url}/epcis?codeDepartement=17&format=geojson&geometry=contour&fields=code,nom,type,population")
    assert [e["derive"] for e in manifest["fichiers"]] == [False, False, False, False, True, True, True]
    assert fetch.read_manifest(out / "cafdata") == manifest["fichiers"]
    assert fetch.read_manifest(out / "geo") == manifest["fichiers"]
    assert fetch.read_manifest(tmp_path / "ailleurs" / "cafdata") is None

    # the project's loaders read the cache: the real rows, not the technical ones served beside them
    caf = load_cafdata(out / "cafdata", "17")
    assert caf.years() == [2022, 2023]
    assert totals(caf, 2023).foyers == 121067 and totals(caf, 2022).foyers == 121720
    com = caf.com.frame.set_index(["dtreffre", "code"])
    assert com.loc[("2023-12", "17300"), "indfoy_ndur"] == 21745
    epci_rows = caf.epci.frame.set_index(["dtreffre", "code"])
    assert epci_rows.loc[("2022-12", "241700434"), "indfoy_ndur"] == 38215
    assert [len(d.technical) for d in (caf.dep, caf.com, caf.epci)] == [2, 1, 1]
    assert entries["cafdata/s_ben_dep_17.csv"]["lignes_ecartees"] == {"copies_identiques": 0, "lignes_techniques": [
        {"mois": "2022-12", "code": "17", "ligne": 3, "valeur": 1, "valeur_gardee": 121720},
        {"mois": "2023-12", "code": "17", "ligne": 7, "valeur": 31, "valeur_gardee": 121067}]}
    assert "lignes_ecartees" not in entries[f"geo/communes_17_{GEO_YEAR}.geojson"]
    geo = load_geo(out / "geo", "17")
    assert geo.communes_path(GEO_YEAR) == out / f"geo/communes_17_{GEO_YEAR}.geojson"
    assert sorted(geo.communes(GEO_YEAR).code) == ["17072", "17300", "17415"]
    assert sorted(geo.epci().siren) == ["200036473", "241700434"]
    pops = geo.commune_populations(2023).set_index("code")
    assert pops.loc["17300", "population"] == 79961 and pops.loc["17300", "siren_epci"] == "241700434"
    ref = load_reference(config.DATA_DIR / "reference", "17", geo_dir=out / "geo")
    assert ref.epci_origin.endswith("epci_17.csv")
    epci = ref.epci[ref.epci.siren == "200036473"].set_index("annee_vigueur")
    assert epci.loc[2023, "population_municipale"] == 60447  # other years keep the embedded DGCL figures
    saintes = epci.loc[GEO_YEAR].copy()
    saintes["annee_vigueur"] = GEO_YEAR
    assert saintes.nom == 'CA "Saintes - Grandes Rives - L’Agglo"'  # typographic apostrophe for display
    assert (saintes.type, saintes.population_municipale, saintes.annee_vigueur) == ("CA", 60600, GEO_YEAR)
    assert saintes.source == DGCL_2025  # the DGCL table's figure, not the service's
    comp = (out / f"geo/epci_17_composition_{GEO_YEAR}.csv").read_text(encoding="utf-8").splitlines()
    assert comp[0] == "annee_dgcl,siren_epci,nom_epci,insee,nom_membre,pmun"
    assert comp[2] == f"{GEO_YEAR},241700434,CA de La Rochelle,17300,La Rochelle,79961"

    # French output: the files written and the command to build with them
    for rel in FILES + ["manifest.json"]:
        assert fr("écrit : ") + str(out / rel) in printed
    assert f"rapport build --year 2023 --set cafdata_dir={out}/cafdata --set geo_dir={out}/geo" in printed
    assert ("(7 fichiers, géographie 2025 lue dans la réponse (populations des communes identiques à celles en "
            "vigueur en 2025, data/reference/communes.csv)).") in printed
    assert fr("Populations des EPCI (2025) : 2 de data/reference/epci.csv (DGCL), 0 de l’API Découpage "
              "administratif.") in printed
    assert fr("Attention : de janvier à avril, l’API Découpage administratif peut encore servir la géographie de "
              "l’année précédente") in captured.err
    assert fr("Géographie enregistrée : 2025, lue dans la réponse") in captured.err
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]


def test_success_replaces_previous_cache(server, tmp_path, monkeypatch):
    out = tmp_path / "cache"
    out.mkdir()
    previous_cache(out)
    real_replace, renames = fetch.os.replace, []

    def recording_replace(src, dst):
        renames.append((Path(src), Path(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(fetch.os, "replace", recording_replace)
    assert run(server, out) == 0
    # the old manifest is set aside first, the new one comes last
    assert renames[0][0] == out / "manifest.json" and renames[-1][1] == out / "manifest.json"
    assert all(dst != out / "manifest.json" for _, dst in renames[:-1])
    after = snapshot(out)
    assert after["cafdata/s_ben_dep_17.csv"] == fixture("s_ben_dep_17.csv")
    assert "geo/communes_17_2024.geojson" not in after  # listed by the old manifest only: retired
    assert after["cafdata/configuration_familiale_17.csv"] == b"fichier de l'utilisateur\n"  # not ours: kept
    manifest = json.loads(after["manifest.json"])
    assert sorted(e["fichier"] for e in manifest["fichiers"]) == sorted(FILES)
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]


@pytest.mark.parametrize("path, first", [
    (COM_PATH, {"status": 500, "body": b"erreur"}),
    (DEP_PATH, {"status": 429, "body": b"trop de requetes"}),
    (EPCI_PATH, {**ok(fixture("s_ben_epci_f_17.csv")), "truncate": True}),
    (EPCIS_PATH, {"status": 200, "body": b"<html>maintenance</html>", "ctype": "text/html"}),
    (DEP_PATH, ok("<html>page d’erreur</html>".encode())),
], ids=["http-500", "http-429", "tronque", "geojson-invalide", "csv-invalide"])
def test_one_failure_then_success(server, tmp_path, path, first):
    normal = server.script.routes[path][0]
    server.script.set(path, first, normal)
    out = tmp_path / "cache"
    assert run(server, out) == 0
    assert server.script.count(path) == 2
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for e in manifest["fichiers"]:
        assert e["sha256"] == hashlib.sha256((out / e["fichier"]).read_bytes()).hexdigest()
    assert (out / "cafdata/s_ben_epci_f_17.csv").read_bytes() == fixture("s_ben_epci_f_17.csv")


# ---------------------------------------------------------------- failures leave the cache untouched


def test_http_500_always(server, tmp_path, terminal):
    out = tmp_path / "cache"
    out.mkdir()
    before = previous_cache(out)
    server.script.set(COM_PATH, {"status": 500, "body": b"erreur interne"})
    assert run(server, out) == 1
    err = terminal.raw_readouterr().err
    url = f"{server.url}{COM_PATH}?delimiter=%3B&with_bom=true&where=startswith%28numcomdo,%20%2217%22%29"
    assert fr(f"Échec du téléchargement de s_ben_com_f_17.csv ({url}) après 3 essais : erreur HTTP 500") in err
    assert server.script.count(COM_PATH) == 3
    assert server.script.count(COMMUNES_PATH) == 0
    assert_untouched(out, before)


def test_timeout(server, tmp_path, terminal):
    out = tmp_path / "cache"
    out.mkdir()
    before = previous_cache(out)
    server.script.set(COMMUNES_PATH, {**geojson("communes_17.geojson"), "delay": 2.0})
    t0 = time.monotonic()
    code = cli.main(["fetch", "--year", "2023", "--cafdata-url", server.url, "--geo-url", server.url,
                     "--out", str(out), "--timeout", "0.5", "--retries", "2"])
    assert code == 1
    assert time.monotonic() - t0 < 4
    err = terminal.raw_readouterr().err
    assert f"Échec du téléchargement de communes_17.geojson ({server.url}/departements/17/communes?" in err
    assert fr("après 2 essais : délai d’attente dépassé (0,5 s)") in err
    assert server.script.count(COMMUNES_PATH) == 2
    assert_untouched(out, before)


def test_truncated_body(server, tmp_path, terminal):
    out = tmp_path / "cache"
    out.mkdir()
    before = previous_cache(out)
    server.script.set(EPCIS_PATH, {**geojson("epcis_17.geojson"), "truncate": True})
    assert run(server, out) == 1
    err = terminal.raw_readouterr().err
    assert f"Échec du téléchargement de epci_17.geojson ({server.url}/epcis?codeDepartement=17&" in err
    assert fr("après 3 essais : réponse incomplète") in err
    assert server.script.count(EPCIS_PATH) == 3
    assert_untouched(out, before)


def test_client_error_is_not_retried(server, tmp_path, terminal):
    out = tmp_path / "cache"
    server.script.set(DEP_PATH, {"status": 400, "body": b'{"error_code": "ODSQLError", "message": "champ inconnu"}'})
    assert run(server, out) == 1
    err = terminal.raw_readouterr().err
    assert "Échec du téléchargement de s_ben_dep_17.csv (" in err and fr("erreur HTTP 400 : champ inconnu") in err
    assert server.script.count(DEP_PATH) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_year_without_december(server, tmp_path, terminal):
    out = tmp_path / "cache"
    out.mkdir()
    before = previous_cache(out)
    assert run(server, out, year="2024") == 1
    err = terminal.raw_readouterr().err
    assert "Décembre 2024 est absent de s_ben_dep_17.csv" in err
    assert fr("mois présents : de 2022-11 à 2023-12") in err
    assert "environ six mois après sa fin" in err
    assert server.script.count(COMMUNES_PATH) == 0  # stopped before the geography
    assert_untouched(out, before)


def test_year_must_be_an_integer(server, tmp_path, terminal):
    out = tmp_path / "cache"
    assert run(server, out, year="abc") == 2
    err = terminal.raw_readouterr().err
    assert "Erreur de paramètre" in err and "l’année doit être un nombre entier" in err and fr("« abc »") in err
    assert server.script.requests == []
    assert not out.exists()


def test_failure_while_replacing_restores_previous_cache(server, tmp_path, monkeypatch, terminal):
    out = tmp_path / "cache"
    out.mkdir()
    before = previous_cache(out)
    real_replace = fetch.os.replace
    calls = {"n": 0}

    def flaky_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 6:  # in the middle of the swap: some old files set aside, some new ones in place
            calls["manifest during swap"] = (out / "manifest.json").exists()
            raise OSError("disque plein (simulé)")
        return real_replace(src, dst)

    monkeypatch.setattr(fetch.os, "replace", flaky_replace)
    assert run(server, out) == 1
    assert calls["n"] > 6  # the renames made were undone
    assert calls["manifest during swap"] is False  # no manifest beside a half-replaced set of files
    assert "le cache précédent a été rétabli" in terminal.raw_readouterr().err
    assert_untouched(out, before)


def test_messages_use_french_typography(server, tmp_path, terminal):
    assert fetch._fr("Erreur : « abc » ; encore ? oui !") == "Erreur\u00a0: «\u00a0abc\u00a0»\u202f; encore\u202f? oui\u202f!"
    assert fetch._fr(fetch._fr("a : b")) == "a\u00a0: b"
    assert fetch._fr("https://x.fr/?a=1;b=2") == "https://x.fr/?a=1;b=2"
    assert run(server, tmp_path / "cache") == 0
    server.script.set(COM_PATH, {"status": 500, "body": b""})
    assert run(server, tmp_path / "cache") == 1
    captured = terminal.raw_readouterr()
    # the prefixes "rapport : " and "Erreur : " are the command line's (cli.py), the rest is this module's
    text = re.sub(r"^(rapport|Erreur)[ \u00a0]: ", "", captured.out + captured.err, flags=re.M)
    assert "\u00a0: " in text and re.search(r" [:;!?](\s|$)|« | »", text) is None


# ---------------------------------------------------------------- HTTP 429: a quota spent is not retried

RESET = dt.datetime(2026, 3, 16, tzinfo=dt.timezone.utc)  # next midnight UTC: 1 h 00 at NOW's offset (+01:00)
QUOTA_BODY = json.dumps({"errorcode": 10005, "reset_time": "2026-03-16T00:00:00Z", "limit_time_unit": "day",
                         "call_limit": 1000, "error": "You have exceeded the requests limit for anonymous users."})
QUOTA_HEADERS = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": str(int(RESET.timestamp()))}


@pytest.mark.parametrize("path, answer", [
    (DEP_PATH, {"status": 429, "body": QUOTA_BODY.encode(), "headers": QUOTA_HEADERS}),  # Opendatasoft's answer
    (COM_PATH, {"status": 429, "body": b"Too Many Requests", "ctype": "text/plain",  # headers only, mid-run
                "headers": QUOTA_HEADERS}),
], ids=["corps-opendatasoft", "en-tetes-seuls"])
def test_daily_quota_exhausted_stops_at_once_with_the_reset_time(server, tmp_path, terminal, path, answer):
    out = tmp_path / "cache"
    out.mkdir()
    before = previous_cache(out)
    server.script.set(path, answer)
    assert run(server, out) == 1
    err = terminal.raw_readouterr().err
    name = "s_ben_dep_17.csv" if path == DEP_PATH else "s_ben_com_f_17.csv"
    assert fr(f"Quota quotidien d’appels de 127.0.0.1:{server.server_address[1]} épuisé (1\u202f000 appels par jour) : "
              f"{name} ({server.url}{path}?") in err
    assert "n’a pas été téléchargé, sans nouvel essai" in err
    assert "Il sera rétabli le 16\u00a0mars\u00a02026 à 1\u00a0h\u00a000 (heure locale)" in err
    assert (fr("Réponse du service : « You have exceeded the requests limit for anonymous users ».") in err) == (
        path == DEP_PATH)
    assert "Le cache n’a pas été modifié." in err
    assert server.script.count(path) == 1  # not retried: each attempt would spend the quota
    assert server.script.count(COMMUNES_PATH) == 0 and server.script.count(EPCI_PATH) == 0
    assert_untouched(out, before)


def test_daily_quota_without_reset_time_says_when_quotas_reset(server, tmp_path, terminal):
    server.script.set(DEP_PATH, {"status": 429, "body": b'{"limit_time_unit": "day", "error": "Too many requests"}'})
    assert run(server, tmp_path / "cache") == 1
    err = terminal.raw_readouterr().err
    assert fr("Le service n’a pas dit quand il sera rétabli (Opendatasoft remet les quotas à zéro chaque jour à "
              "minuit UTC).") in err
    assert server.script.count(DEP_PATH) == 1 and not (tmp_path / "cache").exists()


def test_plain_429_is_retried_after_the_wait_asked(server, tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr(fetch, "_sleep", waits.append)
    server.script.set(DEP_PATH, {"status": 429, "body": b"{}", "headers": {"Retry-After": "3"}},
                      ok(fixture("s_ben_dep_17.csv")))
    out = tmp_path / "cache"
    assert run(server, out) == 0
    assert server.script.count(DEP_PATH) == 2 and waits == [3]
    assert (out / "cafdata/s_ben_dep_17.csv").read_bytes() == fixture("s_ben_dep_17.csv")


def test_429_asking_for_a_long_wait_stops(server, tmp_path, terminal):
    server.script.set(EPCIS_PATH, {"status": 429, "body": b"", "headers": {"Retry-After": "7200"}})
    assert run(server, tmp_path / "cache") == 1
    err = terminal.raw_readouterr().err
    assert "Échec du téléchargement de epci_17.geojson (" in err
    assert fr("erreur HTTP 429 : le service demande d’attendre jusqu’à 15\u00a0mars\u00a02026 à 12\u00a0h\u00a030") in err
    assert server.script.count(EPCIS_PATH) == 1
    assert not (tmp_path / "cache").exists()


# ---------------------------------------------------------------- département without EPCI in the reference table


def to_dep16(data: bytes) -> bytes:
    text = re.sub(r"\b17(\d{3})\b", r"16\1", data.decode("utf-8"))
    return text.replace(";17;Charente-Maritime;", ";16;Charente;").encode("utf-8")


def test_unknown_departement_takes_its_epci_from_the_geo_api(server, tmp_path):
    assert not load_reference(config.DATA_DIR / "reference", "16", national=False).known
    s = server.script
    s.set(DEP_PATH, ok(to_dep16(fixture("s_ben_dep_17.csv"))))
    s.set(COM_PATH, ok(to_dep16(fixture("s_ben_com_f_17.csv"))))
    s.set(EPCI_PATH, ok(fixture("s_ben_epci_f_17.csv")))
    s.set("/departements/16/communes", geojson("communes_17.geojson") | {"body": to_dep16(fixture("communes_17.geojson"))})
    out = tmp_path / "cache16"
    assert cli.main(["fetch", "--year", "2023", "--departement", "16", "--cafdata-url", server.url,
                     "--geo-url", server.url, "--out", str(out)]) == 0
    paths = [p for p, _ in s.requests]
    assert paths.index(EPCIS_PATH) < paths.index(EPCI_PATH)
    assert s.query(EPCIS_PATH)["codeDepartement"] == ["16"]
    assert s.query(EPCI_PATH)["where"] == ['numepci in ("200036473", "241700434")']
    assert s.query(COM_PATH)["where"] == ['startswith(numcomdo, "16")']
    assert sorted(load_geo(out / "geo", "16").communes(GEO_YEAR).code) == ["16072", "16300", "16415"]
    ref = load_reference(config.DATA_DIR / "reference", "16", geo_dir=out / "geo", national=False)
    assert sorted(ref.sirens()) == ["200036473", "241700434"]


# ---------------------------------------------------------------- the year of the geography, EPCI populations


def with_populations(name: str, pops: dict[str, int]) -> dict:
    """A GeoJSON fixture with other populations (by code), as the service would serve another year."""
    data = json.loads(fixture(name))
    for f in data["features"]:
        f["properties"]["population"] = pops.get(f["properties"]["code"], f["properties"]["population"])
    return ok(json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/geo+json")


def manifest_of(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_service_still_serving_last_year_after_april_is_said(server, tmp_path, monkeypatch, terminal):
    monkeypatch.setattr(fetch, "_now", lambda: NOW.replace(month=7))
    out = tmp_path / "cache"
    assert run(server, out) == 0
    err = terminal.raw_readouterr().err
    assert "de janvier à avril" not in err
    assert fr("Attention : en 2026, l’API Découpage administratif sert encore la géographie 2025, lue dans la réponse "
              "(populations des communes identiques à celles en vigueur en 2025, data/reference/communes.csv).") in err
    assert (out / "geo/communes_17_2025.geojson").is_file()


def test_epci_list_a_year_behind_the_communes_takes_the_dgcl_populations(server, tmp_path, terminal):
    """The service's communes are those of 2025 but its EPCI list (and populations) that of 2024:
    the 2025 populations come from the DGCL table, and the manifest keeps the service's figure."""
    server.script.set(EPCIS_PATH, with_populations("epcis_17.geojson", {"200036473": 60641, "241700434": 178217}))
    out = tmp_path / "cache"
    assert run(server, out) == 0
    err = terminal.raw_readouterr().err
    m = manifest_of(out)
    assert (m["millesime_geographie"], m["millesime_communes_service"], m["millesime_epci_service"]) == (2025, 2025, 2024)
    assert [(e["population"], e["population_service"], e["source_population"]) for e in m["epci"]] == [
        (60600, 60641, DGCL_2025), (181057, 178217, DGCL_2025)]
    summary = (out / "geo/epci_17.csv").read_text(encoding="utf-8").splitlines()
    assert summary[2] == f'241700434,CA de La Rochelle,CA,181057,2025,"{DGCL_2025}",' + fr("champ « type » de l’API")
    assert fr("Attention : le service sert les communes de 2025 mais la liste des EPCI de 2024 : les populations des "
              "EPCI de 2025 viennent de data/reference/epci.csv quand elle les a.") in err
    ref = load_reference(config.DATA_DIR / "reference", "17", geo_dir=out / "geo")
    assert ref.epci_year(2025)[0].set_index("siren").population_municipale["241700434"] == 181057


def test_populations_of_no_known_year_are_the_services_and_the_year_unverified(server, tmp_path, terminal):
    """A geography newer than the reference tables (2026 figures): the calendar year is recorded as
    unverified and the EPCI populations are the service's, with their source."""
    server.script.set(COMMUNES_PATH, with_populations("communes_17.geojson", {"17300": 80511, "17415": 25170}))
    server.script.set(EPCIS_PATH, with_populations("epcis_17.geojson", {"200036473": 60702, "241700434": 182404}))
    out = tmp_path / "cache"
    assert run(server, out) == 0
    captured = terminal.raw_readouterr()
    m = manifest_of(out)
    assert (m["millesime_geographie"], m["millesime_geographie_verifie"]) == (2026, False)
    assert m["millesime_communes_service"] is None and m["millesime_epci_service"] is None
    assert sorted(e["fichier"] for e in m["fichiers"] if e["fichier"].startswith("geo/communes")) == [
        "geo/communes_17_2026.geojson"]
    assert [e["population"] for e in m["epci"]] == [60702, 182404]
    assert all(e["source_population"].startswith("API Découpage administratif (127.0.0.1:") for e in m["epci"])
    assert fr("Populations des EPCI (2026) : 0 de data/reference/epci.csv (DGCL), 2 de l’API Découpage "
              "administratif.") in captured.out
    assert fr("Géographie enregistrée : 2026, non vérifiée (année civile en cours") in captured.err


def test_epci_population_left_out_by_the_service_comes_from_the_dgcl_table(server, tmp_path):
    data = json.loads(fixture("epcis_17.geojson"))
    del data["features"][1]["properties"]["population"]
    server.script.set(EPCIS_PATH, ok(json.dumps(data).encode(), "application/geo+json"))
    out = tmp_path / "cache"
    assert run(server, out) == 0
    m = manifest_of(out)
    assert [(e["population"], e["population_service"]) for e in m["epci"]] == [(60600, 60600), (181057, None)]
    # without the table (département 16), a missing population is refused
    rows = [{"siren": "200000001", "nom": "CA du Pays", "type_service": "CA", "population": None}]
    with pytest.raises(fetch.FetchError, match="Population inconnue pour l’EPCI 200000001"):
        fetch.epci_rows(rows, load_reference(config.DATA_DIR / "reference", "16", national=False), 2026, "source")


def test_geography_vintage_needs_a_single_year():
    ref = load_reference(config.DATA_DIR / "reference", "17")
    today = dt.date(2026, 9, 1)
    burie = [{"code": "17072", "population": 1337}]  # the same figure in 2024 and 2025: no single year
    v = fetch.geography_vintage(burie, [], ref, today)
    assert (v.year, v.verified, v.communes) == (2026, False, None)
    v = fetch.geography_vintage(burie + [{"code": "17300", "population": 78535}], [], ref, today)
    assert (v.year, v.verified, v.communes) == (2024, True, 2024)
    assert fetch.vintage_warnings(v, today) == [
        f"Attention : en 2026, l’API Découpage administratif sert encore la géographie 2024, {v.origin}."]
    v = fetch.geography_vintage([], [{"siren": "241700434", "population": 175608}], ref, today)
    assert (v.year, v.epci, v.communes) == (2023, 2023, None) and "liste DGCL 2023" in v.origin


# ---------------------------------------------------------------- technical rows: the La Réunion pattern


REUNION_DECEMBERS = {"2020-12": 285387, "2021-12": 284993, "2022-12": 283105}


def test_la_reunion_export_keeps_the_real_december():
    """The s_ben_dep export of La Réunion carries each December of 2020-2022 twice: a technical
    row of 31, 30 or 1 foyers beside the real row."""
    d = read_export(FIX / "s_ben_dep_974.csv", "s_ben_dep", "974")
    decembers = d.frame[d.frame.dtreffre.str.endswith("-12")].set_index("dtreffre").indfoy_ndur.to_dict()
    assert decembers == REUNION_DECEMBERS
    assert [(t.month, t.value, t.kept) for t in d.technical] == [
        ("2020-12", 31, 285387), ("2021-12", 30, 284993), ("2022-12", 1, 283105)]


def serve_974(server) -> None:
    s = server.script
    for dataset, path in (("s_ben_dep", DEP_PATH), ("s_ben_com_f", COM_PATH), ("s_ben_epci_f", EPCI_PATH)):
        s.set(path, ok(fixture(f"{dataset}_974.csv")))
    s.set("/departements/974/communes", geojson("communes_974.geojson"))
    s.set(EPCIS_PATH, geojson("epcis_974.geojson"))


def test_fetch_la_reunion_caches_the_export_and_reads_back_the_real_rows(server, tmp_path, terminal):
    serve_974(server)
    out = tmp_path / "cache974"
    assert cli.main(["fetch", "--year", "2022", "--departement", "974", "--cafdata-url", server.url,
                     "--geo-url", server.url, "--out", str(out), "--timeout", "2"]) == 0
    printed = terminal.raw_readouterr().out
    for dataset in ("s_ben_dep", "s_ben_com_f", "s_ben_epci_f"):  # kept exactly as served
        assert (out / f"cafdata/{dataset}_974.csv").read_bytes() == fixture(f"{dataset}_974.csv")
    assert server.script.query(DEP_PATH)["where"] == ['numdep="974"']
    assert server.script.query(EPCI_PATH)["where"] == ['numepci in ("249740119")']

    caf = load_cafdata(out / "cafdata", "974")
    assert caf.years() == [2020, 2021, 2022]
    assert {y: totals(caf, y).foyers for y in (2020, 2021, 2022)} == {
        int(m[:4]): v for m, v in REUNION_DECEMBERS.items()}  # 285 387, not 285 418
    ref = load_reference(config.DATA_DIR / "reference", "974", national=False)
    assert communes_year(caf, ref, 2022).set_index("code").indfoy_ndur.to_dict() == {"97411": 57890, "97418": 11295}
    assert caf.epci.frame.set_index("dtreffre").indfoy_ndur.to_dict() == {"2021-12": 78420, "2022-12": 78005}
    # no reference table for 974: the year of the geography is the calendar year, said to be unverified
    assert (out / "geo/communes_974_2026.geojson").read_bytes() == fixture("communes_974.geojson")

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["millesime_geographie"], manifest["millesime_geographie_verifie"]) == (2026, False)
    assert manifest["millesime_geographie_origine"].startswith("non vérifiée (année civile en cours")
    assert manifest["epci"][0]["source_population"].startswith("API Découpage administratif (127.0.0.1:")
    dropped = {e["fichier"]: e.get("lignes_ecartees") for e in manifest["fichiers"]}
    assert [(r["mois"], r["valeur"], r["valeur_gardee"])
            for r in dropped["cafdata/s_ben_dep_974.csv"]["lignes_techniques"]] == [
        ("2020-12", 31, 285387), ("2021-12", 30, 284993), ("2022-12", 1, 283105)]
    assert len(dropped["cafdata/s_ben_com_f_974.csv"]["lignes_techniques"]) == 2
    # the summary says what was left out, and what was kept
    dec = {y: fmt.mois_annee(f"{y}-12-01") for y in (2020, 2021, 2022)}
    assert fr(f"s_ben_dep_974.csv : 3 lignes techniques écartées, la ligne réelle gardée ({dec[2020]} : 31 foyers à côté "
            f"de {fmt.nombre(285387)} ; {dec[2021]} : 30 foyers à côté de {fmt.nombre(284993)} ; {dec[2022]} : 1 foyer "
            f"à côté de {fmt.nombre(283105)}).") in printed
    assert fr(f"s_ben_com_f_974.csv : 2 lignes techniques écartées, la ligne réelle gardée ({dec[2021]}, 97418 : 5 foyers "
            f"à côté de {fmt.nombre(11340)} ; {dec[2022]}, 97411 : 5 foyers à côté de {fmt.nombre(57890)}).") in printed


def test_read_manifest_rejects_a_broken_file(tmp_path):
    (tmp_path / "cafdata").mkdir()
    (tmp_path / "manifest.json").write_text('{"fichiers": ', encoding="utf-8")
    with pytest.raises(DataError) as e:
        fetch.read_manifest(tmp_path / "cafdata")
    assert "manifeste illisible" in str(e.value)


def test_epci_type_from_the_name_only_as_a_fallback_and_consistency_checks():
    assert fetch.epci_type("CA de La Rochelle", "241700434", {}) == "CA"
    assert fetch.epci_type("CC Aunis Sud", "200041614", {}) == "CC"
    assert fetch.epci_type("CU de Dunkerque", "245900428", {}) == "CU"
    assert fetch.epci_type("Métropole du Grand Nancy", "245400676", {}) == "ME"
    assert fetch.epci_type("Bordeaux Métropole", "243300316", {}) == "ME"
    assert fetch.epci_type("Communauté de communes du Pays", "200000001", {}) == "CC"
    assert fetch.epci_type("Agglo du Pays", "200000001", {"200000001": "CA"}) == "CA"  # from the reference table
    with pytest.raises(fetch.FetchError, match="Type inconnu pour l’EPCI 200000001"):
        fetch.epci_type("Agglo du Pays", "200000001", {})
    # the DGCL's legal nature served in `type` wins over the name
    kind = fetch.epci_kind
    assert kind({"siren": "200000001", "nom": "Agglo du Pays", "type_service": "CA"}, {}) == ("CA", fr("champ « type » de l’API"))
    assert kind({"siren": "200046977", "nom": "Métropole de Lyon", "type_service": "MET69"}, {})[0] == "ML"
    assert kind({"siren": "243300316", "nom": "Bordeaux Métropole", "type_service": "METRO"}, {})[0] == "ME"
    assert kind({"siren": "200000001", "nom": "CA du Pays", "type_service": "CU"}, {})[0] == "CU"
    assert kind({"siren": "200000001", "nom": "CA du Pays", "type_service": None}, {}) == (
        "CA", fr("déduit du nom (champ « type » absent de la réponse)"))
    assert kind({"siren": "200000001", "nom": "CA du Pays", "type_service": "SAN"}, {}) == (
        "CA", fr("déduit du nom (valeur « SAN » du champ « type » inconnue)"))
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    epcis = [{"siren": "241700434", "nom": "CA de La Rochelle", "type": "CA", "origine_type": "champ « type » de l’API",
              "population": 10, "source": "source", "geometry": square}]
    communes = [{"code": "17300", "nom": "La Rochelle", "population": 10, "codeEpci": "200036473"}]
    with pytest.raises(fetch.FetchError, match="la commune 17300 appartient à l’EPCI 200036473"):
        fetch.epci_files(epcis, communes, "17", 2026)


def epcis_answer(**types) -> bytes:
    """epcis_17.geojson with `type` set per SIREN (None: the property is left out)."""
    data = json.loads(fixture("epcis_17.geojson"))
    for f in data["features"]:
        value = types.get(f["properties"]["code"], f["properties"]["type"])
        if value is None:
            del f["properties"]["type"]
        else:
            f["properties"]["type"] = value
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def test_epci_type_is_the_served_field_and_guessed_only_when_absent(server, tmp_path, terminal):
    out = tmp_path / "cache"
    # served type: used as is, even where the name would say otherwise
    server.script.set(EPCIS_PATH, ok(epcis_answer(**{"241700434": "CU"}), "application/geo+json"))
    assert run(server, out) == 0
    summary = (out / "geo/epci_17.csv").read_text(encoding="utf-8").splitlines()
    assert summary[0] == "siren,nom,type,population,annee_vigueur,source,origine_type"
    assert summary[2].startswith("241700434,CA de La Rochelle,CU,") and summary[2].endswith(fr(",champ « type » de l’API"))
    assert "Type des EPCI" not in terminal.raw_readouterr().out
    # no type in the answer: guessed from the name, and the summary says so
    server.script.set(EPCIS_PATH, ok(epcis_answer(**{"241700434": None}), "application/geo+json"))
    assert run(server, out) == 0
    summary = (out / "geo/epci_17.csv").read_text(encoding="utf-8").splitlines()
    assert summary[1].startswith("200036473,") and summary[1].endswith(fr(",champ « type » de l’API"))
    assert summary[2].startswith("241700434,CA de La Rochelle,CA,")
    assert summary[2].endswith(fr(",déduit du nom (champ « type » absent de la réponse)"))
    assert fr("Type des EPCI : 1 EPCI sans type utilisable dans la réponse de l’API, type déduit du nom ou de "
            "data/reference/epci.csv (241700434 : CA, déduit du nom (champ « type » absent de la réponse)).") \
        in terminal.raw_readouterr().out
    geo = json.loads((out / "geo/epci_17.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["type"] for f in geo["features"]] == ["CA", "CA"]
