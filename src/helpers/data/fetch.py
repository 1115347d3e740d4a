"""`rapport fetch`: download the open data of one département into a cache folder.

Layout of the cache (default `data/cache/<dep>/`), read by `cafdata.py`, `geo.py` and
`reference.py` unchanged:

- `cafdata/s_ben_dep_<dep>.csv`, `cafdata/s_ben_epci_f_<dep>.csv`, `cafdata/s_ben_com_f_<dep>.csv`:
  the Cafdata exports exactly as data.caf.fr serves them (Opendatasoft Explore API v2.1,
  `…/catalog/datasets/<id>/exports/csv`, filtered on the département with `where`), technical
  rows included (the loader keeps the real row; the manifest lists the rows it leaves out);
- `geo/communes_<dep>_<Y>.geojson`: the commune outlines exactly as the API Découpage
  administratif (geo.api.gouv.fr) serves them, properties `code, nom, population, codeEpci`;
  Y is the year of the geography served, read from the answer's populations when the reference
  tables allow it, else the calendar year, said to be unverified (see `geography_vintage`);
- `geo/epci_<dep>.geojson` (property `siren`), `geo/epci_<dep>.csv` (summary read by
  `reference.read_geo_epci`: type from the answer's `type` field, population from the DGCL table
  of data/reference for year Y when it has the EPCI, each with its origin) and
  `geo/epci_<dep>_composition_<Y>.csv` (member communes and their population);
- `manifest.json`: for each file, the address it came from, the date, the size and the sha256;
  the year of the geography and how it was found; each EPCI's type and population with their source.

Everything is downloaded into a staging folder next to the cache and checked first; only then
are the files of the cache replaced, with renames, the manifest last. A failure leaves the
previous cache (files and manifest) as it was.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3

from helpers import config, fmt
from helpers.data.cafdata import Dataset, read_export
from helpers.data.reference import Reference, load_reference
from helpers.errors import DataError, ParamError, Problem, RapportError, display_path

log = logging.getLogger("rapport")

BACKOFF_SECONDS = 1.0  # wait BACKOFF_SECONDS × attempt number before trying again
WAIT_MAX_SECONDS = 120.0  # a server asking to wait longer than this stops the command instead
MANIFEST = "manifest.json"
USER_AGENT = "rapport-caf (rapport fetch)"
RE_DEP = re.compile(r"^(\d{2}|2A|2B|97\d)$")
RE_COMMUNE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
RE_SIREN = re.compile(r"^\d{9}$")
CAFDATA_FILES = ("s_ben_dep", "s_ben_com_f", "s_ben_epci_f")

# The `type` field of /epcis is the DGCL's `nature_juridique` (api-geo build/epcis.js takes it from
# @etalab/decoupage-administratif, built from epcicomY.xlsx): CA, CC, CU, METRO, and MET69 for the
# Métropole de Lyon. The project’s types (data/reference/epci.csv) are CA, CC, CU, ME and ML (Métropole de Lyon).
EPCI_API_TYPES = {"CA": "CA", "CC": "CC", "CU": "CU", "METRO": "ME", "MET69": "ML"}

# Fallback when the answer has no usable `type`: the type from the start of the name (names of the
# DGCL's list, as served by the API).
EPCI_TYPES = [
    ("CA ", "CA"), ("CC ", "CC"), ("CU ", "CU"), ("Métropole", "ME"),
    ("Communauté d’agglomération", "CA"), ("Communauté de communes", "CC"), ("Communauté urbaine", "CU"),
]


_fr = fmt.message  # French typography for every message of this module


class FetchError(RapportError):
    """A download or a check failed; the cache was left as it was. The message is French."""

    def __init__(self, message: str):
        super().__init__(_fr(message))


class _Retry(Exception):
    """This attempt failed in a way another attempt may fix (HTTP 5xx/429, network, truncated or invalid body);
    `wait`: the seconds the server asked to wait before the next attempt, if it said."""

    def __init__(self, cause: str, wait: float | None = None):
        super().__init__(cause)
        self.cause = cause
        self.wait = wait


class _Stop(_Retry):
    """This attempt failed in a way another attempt will not fix (HTTP 404, malformed address…)."""


class _Quota(_Stop):
    """HTTP 429 with the daily quota of calls exhausted: no attempt succeeds before the reset."""

    def __init__(self, reset: dt.datetime | None, limit: int | None, said: str):
        super().__init__("quota quotidien épuisé")
        self.reset, self.limit, self.said = reset, limit, said


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def _seconds(s: float) -> str:
    return f"{s:g}".replace(".", ",")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _url(base: str, path: str, params: dict[str, str]) -> str:
    # %20 rather than `+` for spaces, commas kept readable: the address written in the manifest
    # is exactly the one requested.
    return f"{base.rstrip('/')}{path}?{urlencode(params, quote_via=quote, safe=',')}"


# ---------------------------------------------------------------- addresses


def cafdata_url(base: str, dataset: str, where: str) -> str:
    """Opendatasoft Explore API v2.1 CSV export of one dataset, filtered with an ODSQL `where`."""
    return _url(base, f"/api/explore/v2.1/catalog/datasets/{dataset}/exports/csv",
                {"delimiter": ";", "with_bom": "true", "where": where})


def cafdata_where(dataset: str, dep: str, sirens: list[str]) -> str:
    if dataset == "s_ben_dep":
        return f'numdep="{dep}"'
    if dataset == "s_ben_com_f":
        return f'startswith(numcomdo, "{dep}")'
    return "numepci in (" + ", ".join(f'"{s}"' for s in sirens) + ")"


def communes_url(base: str, dep: str) -> str:
    return _url(base, f"/departements/{dep}/communes",
                {"format": "geojson", "geometry": "contour", "fields": "code,nom,population,codeEpci"})


def epcis_url(base: str, dep: str) -> str:
    return _url(base, "/epcis", {"codeDepartement": dep, "format": "geojson", "geometry": "contour",
                                 "fields": "code,nom,type,population"})


# ---------------------------------------------------------------- HTTP with retries


class Client:
    """GET with a timeout per request and a number of attempts per file."""

    def __init__(self, timeout: float, attempts: int, sleep: Callable[[float], None] | None = None):
        self.timeout = timeout
        self.attempts = attempts
        self.sleep = sleep or _sleep
        self.session = requests.Session()  # proxies from the environment are honoured
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self.session.close()

    def _get(self, url: str) -> bytes:
        try:
            r = self.session.get(url, timeout=self.timeout)
        except requests.exceptions.Timeout:
            raise _Retry(f"délai d’attente dépassé ({_seconds(self.timeout)} s)")
        except requests.exceptions.ChunkedEncodingError:
            raise _Retry("réponse incomplète (connexion interrompue avant la fin)")
        except requests.exceptions.ContentDecodingError:
            raise _Retry("réponse illisible (décompression impossible)")
        except requests.exceptions.ConnectionError as exc:
            inner = exc.args[0] if exc.args else None
            if isinstance(inner, urllib3.exceptions.ReadTimeoutError):  # timeout while reading the body
                raise _Retry(f"délai d’attente dépassé ({_seconds(self.timeout)} s)")
            raise _Retry(f"connexion impossible ({_short(exc)})")
        except requests.exceptions.RequestException as exc:  # malformed address, unknown scheme…
            raise _Stop(f"requête impossible ({_short(exc)})")
        if r.status_code == 429:
            raise _too_many_requests(r)
        if r.status_code >= 500:
            raise _Retry(f"erreur HTTP {r.status_code}")
        if r.status_code != 200:
            raise _Stop(f"erreur HTTP {r.status_code}{_api_message(r)}")
        length = r.headers.get("Content-Length", "")
        encoding = r.headers.get("Content-Encoding", "identity").strip().lower()
        if length.isdigit() and encoding in ("", "identity") and len(r.content) < int(length):
            raise _Retry(f"réponse incomplète ({fmt.nombre(len(r.content))} octets reçus sur "
                         f"{fmt.nombre(int(length))} annoncés)")
        return r.content

    def get(self, name: str, url: str, check: Callable[[bytes], object]) -> tuple[bytes, object, dt.datetime]:
        """Download `url` and pass the body to `check` (which raises _Retry if it is not acceptable);
        retry on failures another attempt may fix; raise FetchError naming the file, the address and
        the cause once the attempts are spent."""
        log.info(_fr("Téléchargement de %s : %s"), name, url)
        cause = ""
        for attempt in range(1, self.attempts + 1):
            try:
                body = self._get(url)
                result = check(body)
                return body, result, _now()
            except _Quota as exc:
                raise FetchError(_quota_message(exc, name, url)) from None
            except _Stop as exc:
                raise FetchError(f"Échec du téléchargement de {name} ({url}) : {exc.cause}") from None
            except _Retry as exc:
                cause, wait = exc.cause, exc.wait
            if attempt < self.attempts:
                delay = max(BACKOFF_SECONDS * attempt, wait or 0)
                log.info(_fr("%s : essai %d sur %d en échec (%s), nouvel essai dans %s s"),
                         name, attempt, self.attempts, cause, _seconds(delay))
                self.sleep(delay)
        essais = "essai" if self.attempts == 1 else "essais"
        raise FetchError(f"Échec du téléchargement de {name} ({url}) après {self.attempts} {essais} : {cause}")


# ---------------------------------------------------------------- HTTP 429: throttled, or out of quota
#
# Opendatasoft (data.caf.fr) counts API calls per day (user or anonymous, resets at midnight UTC) and
# says so on every answer: X-RateLimit-Limit (calls a day), X-RateLimit-Remaining, X-RateLimit-Reset
# (epoch of the next reset). Once the quota is spent it answers 429 with a JSON body such as
# {"errorcode": 10005, "reset_time": "2021-01-26T00:00:00Z", "limit_time_unit": "day",
#  "call_limit": 1000, "error": "You have exceeded the requests limit for anonymous users."}
# (errorcode 10002: the domain's quota). Retrying then only spends more calls: the command stops at
# once and says when to come back. Any other 429 (a short throttle, with or without Retry-After) is
# retried, after the wait the server asks for.

QUOTA_ERRORCODES = {10002, 10005}


def _header_time(value: str, now: dt.datetime) -> dt.datetime | None:
    """X-RateLimit-Reset or Retry-After: an epoch (seconds, or milliseconds), a number of seconds
    from now, or a date."""
    value = (value or "").strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        x = float(value)
        if x >= 1e12:
            x /= 1000
        if x >= 1e9:
            return dt.datetime.fromtimestamp(x, dt.timezone.utc)
        return now + dt.timedelta(seconds=x)
    try:
        t = parsedate_to_datetime(value)  # HTTP date (Retry-After)
    except (TypeError, ValueError):
        try:
            t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))  # ISO 8601 (reset_time)
        except ValueError:
            return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _too_many_requests(r: requests.Response) -> _Retry:
    now = _now()
    try:
        body = r.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    reset = (_header_time(str(body.get("reset_time") or ""), now)
             or _header_time(r.headers.get("X-RateLimit-Reset", ""), now))
    remaining = r.headers.get("X-RateLimit-Remaining", "").strip()
    daily = str(body.get("limit_time_unit", "")).strip().lower() == "day" or body.get("errorcode") in QUOTA_ERRORCODES
    # no calls left and no reset within a reasonable wait: a quota, whatever the body says
    spent = remaining == "0" and (reset is None or (reset - now).total_seconds() > WAIT_MAX_SECONDS)
    if daily or spent:
        limit = body.get("call_limit")
        if not isinstance(limit, int) or isinstance(limit, bool):
            header = r.headers.get("X-RateLimit-Limit", "").strip()
            limit = int(header) if header.isdigit() else None
        said = body.get("error") or body.get("message") or ""
        return _Quota(reset, limit, _short(Exception(str(said)), 160) if said else "")
    wait = None
    until = _header_time(r.headers.get("Retry-After", ""), now) or (reset if remaining == "0" else None)
    if until is not None:
        wait = max(0.0, (until - now).total_seconds())
        if wait > WAIT_MAX_SECONDS:
            return _Stop(f"erreur HTTP 429 : le service demande d’attendre jusqu’à {_heure(until)} "
                         "avant de réessayer")
    return _Retry("erreur HTTP 429 (trop de requêtes)", wait)


def _heure(t: dt.datetime) -> str:
    """`16 mars 2026 à 1 h 00` in the local time zone of the run."""
    local = t.astimezone(_now().tzinfo)
    return f"{fmt.date_longue(local.date())} à {local.hour}\u00a0h\u00a0{local.minute:02d}"


def _quota_message(q: _Quota, name: str, url: str) -> str:
    host = _host(url)
    limit = f" ({fmt.nombre(q.limit)} appels par jour)" if q.limit else ""
    said = f" Réponse du service : « {q.said.rstrip('. ')} »." if q.said else ""
    if q.reset is not None:
        when = f"Il sera rétabli le {_heure(q.reset)} (heure locale) : relancer la commande après cette heure."
    else:
        when = ("Le service n’a pas dit quand il sera rétabli (Opendatasoft remet les quotas à zéro chaque jour à "
                "minuit UTC).")
    return (f"Quota quotidien d’appels de {host} épuisé{limit} : {name} ({url}) n’a pas été téléchargé, sans nouvel "
            f"essai (chaque essai compterait dans le quota).{said} {when} Le cache n’a pas été modifié.")


def _short(exc: Exception, limit: int = 200) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "…"


def _api_message(r: requests.Response) -> str:
    """The explanation an API gives with a 4xx answer (Opendatasoft: JSON with `message`)."""
    try:
        data = r.json()
    except ValueError:
        return ""
    msg = data.get("message") if isinstance(data, dict) else None
    return f" : {_short(Exception(str(msg)))}" if msg else ""


# ---------------------------------------------------------------- checks of the answers


def _problems(exc: DataError, limit: int = 3) -> str:
    parts = []
    for p in exc.problems[:limit]:
        where = []
        if p.row is not None:
            where.append(f"ligne {p.row}")
        if p.column is not None:
            where.append(f"colonne « {p.column} »")
        parts.append(f"{', '.join(where)} : {p.message}" if where else p.message)
    more = f" ; … et {len(exc.problems) - limit} autres problèmes" if len(exc.problems) > limit else ""
    return " ; ".join(parts) + more


def check_cafdata(body: bytes, path: Path, dataset: str, dep: str) -> Dataset:
    """Accept a Cafdata export only if the project's loader reads it without a problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Retry(f"contenu invalide : le fichier n’est pas en UTF-8 (octet {exc.start})")
    lines = [ln for ln in text.lstrip("\ufeff").splitlines() if ln.strip()]
    if not lines or "dtreffre" not in lines[0]:
        raise _Retry("contenu invalide : la première ligne ne contient pas « dtreffre » "
                     "(ce n’est pas un export Cafdata)")
    if len(lines) < 2:
        raise _Retry("contenu invalide : aucune ligne de données")
    path.write_bytes(body)
    try:
        ds = read_export(path, dataset, dep)
    except DataError as exc:
        raise _Retry(f"contenu invalide : {_problems(exc)}")
    if ds.frame.code.notna().sum() == 0:
        raise _Retry(f"contenu invalide : aucune ligne pour le département {dep}")
    return ds


def _features(body: bytes) -> list[dict]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Retry(f"contenu invalide : JSON illisible ({_short(exc, 120)})")
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise _Retry("contenu invalide : une collection GeoJSON (FeatureCollection) est attendue")
    feats = data["features"]
    if not feats:
        raise _Retry("contenu invalide : la collection est vide")
    for i, f in enumerate(feats, 1):
        geom = f.get("geometry") if isinstance(f, dict) else None
        if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon") or not geom.get("coordinates"):
            raise _Retry(f"contenu invalide : l’objet n° {i} n’a pas de contour (Polygon ou MultiPolygon)")
        if not isinstance(f.get("properties"), dict):
            raise _Retry(f"contenu invalide : l’objet n° {i} n’a pas de propriétés")
    return feats


def _population(value, what: str) -> int | None:
    """A population the answer may leave out (None), but not give wrong."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Retry(f"contenu invalide : population invalide pour {what}")
    return value


def _coded_features(body: bytes, valid, invalid: str, what):
    """The features of a GeoJSON answer, each with a valid `code` seen once and a `nom`: (feature,
    properties, code, nom). `valid(code)`; `invalid`: what a bad code is, in the message; `what(code)`:
    « la commune 17300 », « l’EPCI 200041499 »."""
    seen = set()
    for f in _features(body):
        p = f["properties"]
        code, nom = p.get("code"), p.get("nom")
        if not isinstance(code, str) or not valid(code):
            raise _Retry(f"contenu invalide : {invalid} ({code!r})")
        if code in seen:
            raise _Retry(f"contenu invalide : {what(code)} figure deux fois")
        seen.add(code)
        if not isinstance(nom, str) or not nom.strip():
            raise _Retry(f"contenu invalide : nom absent pour {what(code)}")
        yield f, p, code, nom


def check_communes(body: bytes, dep: str) -> list[dict]:
    """Communes of the département: code, nom, population (may be absent), codeEpci (may be absent)."""
    out = []
    for _, p, code, nom in _coded_features(body, lambda c: bool(RE_COMMUNE.match(c)) and c.startswith(dep),
                                           f"code commune invalide ou hors du département {dep}",
                                           lambda c: f"la commune {c}"):
        epci = p.get("codeEpci")
        if epci is not None and (not isinstance(epci, str) or not RE_SIREN.match(epci)):
            raise _Retry(f"contenu invalide : codeEpci invalide pour la commune {code} ({epci!r})")
        out.append({"code": code, "nom": nom, "population": _population(p.get("population"), f"la commune {code}"),
                    "codeEpci": epci})
    return out


def check_epcis(body: bytes) -> list[dict]:
    """EPCI with their outline: code (SIREN), nom, type and population (each may be absent: the
    DGCL table and the name make up for them, see `epci_rows`)."""
    out = []
    for f, p, code, nom in _coded_features(body, lambda c: bool(RE_SIREN.match(c)), "SIREN d’EPCI invalide",
                                           lambda c: f"l’EPCI {c}"):
        kind = p.get("type")
        if kind is not None and not isinstance(kind, str):
            raise _Retry(f"contenu invalide : type invalide pour l’EPCI {code} ({kind!r})")
        out.append({"siren": code, "nom": nom, "type_service": kind,
                    "population": _population(p.get("population"), f"l’EPCI {code}"),
                    "geometry": f["geometry"]})
    return out


def _type_from_name(name: str) -> str | None:
    n = name.strip().replace("'", "’")
    for prefix, kind in EPCI_TYPES:
        if n.startswith(prefix) or n.lower().startswith(prefix.lower()):
            return kind
    return "ME" if "métropole" in n.lower() else None


def epci_type(name: str, siren: str, known: dict[str, str]) -> str:
    """Fallback: CA, CC, CU or ME from the start of the name; else the type in the reference table."""
    return epci_kind({"siren": siren, "nom": name}, known)[0]


def epci_kind(epci: dict, known: dict[str, str]) -> tuple[str, str]:
    """The EPCI's type and where it comes from: the `type` field of the answer (the DGCL's legal
    nature) when present and known; else guessed from the name, else the reference table."""
    served = epci.get("type_service")
    siren, name = epci["siren"], epci["nom"]
    if served is not None and served.strip().upper() in EPCI_API_TYPES:
        return EPCI_API_TYPES[served.strip().upper()], _fr("champ « type » de l’API")
    why = ("champ « type » absent de la réponse" if served is None
           else f"valeur « {served} » du champ « type » inconnue")
    kind = _type_from_name(name)
    if kind is not None:
        return kind, _fr(f"déduit du nom ({why})")
    if siren in known:
        return known[siren], _fr(f"data/reference/epci.csv ({why})")
    raise FetchError(f"Type inconnu pour l’EPCI {siren} « {name} » : {why}, le nom ne commence ni par « CA », « CC », "
                     "« CU » ni par « Métropole », et l’EPCI est absent de data/reference/epci.csv")


def dropped_rows(ds: Dataset) -> dict | None:
    """What the loader left out of an export (for the manifest): identical copies of a row, and
    the small "technical" rows Cafdata publishes beside the real row of a month (La Réunion:
    31 foyers beside 285 387 in December 2020)."""
    if not ds.rows_dropped:
        return None
    return {"copies_identiques": ds.duplicates_dropped,
            "lignes_techniques": [{"mois": d.month, "code": d.code, "ligne": d.line, "valeur": _count(d.value),
                                   "valeur_gardee": _count(d.kept)} for d in ds.technical]}


def _count(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def dropped_note(name: str, ds: Dataset, limit: int = 4) -> str | None:
    """One French sentence for the summary: the rows left out of `name` and the rows kept."""
    if not ds.rows_dropped:
        return None
    parts = []
    if ds.technical:
        unit = ("foyer", "foyers") if "indfoy_ndur" in ds.measures else ("", "")
        details = []
        for d in ds.technical[:limit]:
            month = fmt.mois_annee(f"{d.month}-01")
            where = f"{month}, {d.code}" if d.code and ds.name != "s_ben_dep" else month
            what = fmt.nombre(d.value) + (f" {unit[0] if d.value <= 1 else unit[1]}" if unit[0] else "")
            details.append(f"{where} : {what} à côté de {fmt.nombre(d.kept)}")
        more = f" ; … et {len(ds.technical) - limit} autres" if len(ds.technical) > limit else ""
        n = len(ds.technical)
        parts.append(f"{fmt.pluriel(n, 'ligne technique écartée', 'lignes techniques écartées')}, la ligne réelle "
                     f"gardée ({' ; '.join(details)}{more})")
    if ds.duplicates_dropped:
        parts.append(fmt.pluriel(ds.duplicates_dropped, "copie identique écartée", "copies identiques écartées"))
    return f"{name} : {' ; '.join(parts)}."


def check_december(ds: Dataset, file: str, url: str, year: int) -> None:
    months = ds.months()
    if f"{year}-12" in months:
        return
    present = f"mois présents : de {months[0]} à {months[-1]}" if months else "aucun mois"
    msg = f"Décembre {year} est absent de {file} ({url}) ; {present}."
    if not months or int(months[-1][:4]) <= year:
        msg += (f" Les données de l’année {year} ne sont définitives qu’environ six mois après sa fin "
                f"(vers l’été {year + 1}) : réessayer plus tard, ou choisir une année antérieure.")
    raise FetchError(msg + " Le cache n’a pas été modifié.")


# ---------------------------------------------------------------- the year of the geography served


@dataclass(frozen=True)
class Vintage:
    year: int  # the millésime recorded: file names, summary, manifest
    verified: bool  # read from the answer rather than assumed
    origin: str  # how it was found (French, for the manifest and the summary)
    communes: int | None  # year of the commune populations served, if identified
    epci: int | None  # year of the DGCL list of EPCI served, if identified


def _years_matching(served: dict[str, int], table, code: str) -> list[int]:
    """Years of a reference table whose populations are exactly the served ones, on every code
    both hold (at least half of the served codes)."""
    years = []
    if not served or table.empty:
        return years
    for y, part in table.groupby("annee_vigueur"):
        known = dict(zip(part[code], part.population_municipale.astype(int)))
        common = [c for c in served if c in known]
        if common and 2 * len(common) >= len(served) and all(served[c] == known[c] for c in common):
            years.append(int(y))
    return years


def geography_vintage(communes: list[dict], epcis: list[dict], ref: Reference, today: dt.date) -> Vintage:
    """The year of the geography the API Découpage administratif serves.

    The service does not state it: its answers are bare GeoJSON collections, without a year field
    or a version header (datagouv/api-geo, server.js). What is documented is where its populations
    come from (@etalab/decoupage-administratif, build/index.js and build/epci.js, which api-geo
    serves): a commune's `population` is Insee's population municipale in force, an EPCI's is the
    `total_pop_mun` of the DGCL's list of that year (epcicomY.xlsx), two sources updated separately.
    So the year Y of data/reference/communes.csv whose commune populations are exactly those served
    is the year of the commune geography, and the EPCI list is dated the same way with
    data/reference/epci.csv. When no single year matches (a département or a year the tables do
    not have), the calendar year is recorded and said to be unverified."""
    vc = _years_matching({c["code"]: c["population"] for c in communes if c["population"] is not None},
                         ref.communes, "code_commune")
    ve = _years_matching({e["siren"]: e["population"] for e in epcis if e["population"] is not None},
                         ref.epci, "siren")
    vc_year = vc[0] if len(vc) == 1 else None
    ve_year = ve[0] if len(ve) == 1 else None
    if vc_year is not None:
        return _vintage(vc_year, True, f"lue dans la réponse (populations des communes identiques à celles en vigueur "
                                      f"en {vc_year}, data/reference/communes.csv)", vc_year, ve_year)
    if ve_year is not None:
        return _vintage(ve_year, True, f"lue dans la réponse (populations des EPCI identiques à celles de la liste DGCL "
                                      f"{ve_year}, data/reference/epci.csv)", None, ve_year)
    return _vintage(today.year, False, "non vérifiée (année civile en cours : le service ne dit pas quelle année il sert, "
                                      "et ses populations ne correspondent à une seule année ni de "
                                      "data/reference/communes.csv ni de data/reference/epci.csv)", None, None)


def _vintage(year: int, verified: bool, origin: str, communes: int | None, epci: int | None) -> Vintage:
    return Vintage(year, verified, _fr(origin), communes, epci)


def vintage_warnings(v: Vintage, today: dt.date) -> list[str]:
    out = []
    if today.month <= 4:
        out.append(f"Attention : de janvier à avril, l’API Découpage administratif peut encore servir la géographie "
                   f"de l’année précédente (le Code officiel géographique et la liste des EPCI de la DGCL de "
                   f"l’année paraissent en début d’année). Géographie enregistrée : {v.year}, {v.origin}.")
    elif v.verified and v.year < today.year:
        out.append(f"Attention : en {today.year}, l’API Découpage administratif sert encore la géographie {v.year}, "
                   f"{v.origin}.")
    if v.communes is not None and v.epci is not None and v.communes != v.epci:
        out.append(f"Attention : le service sert les communes de {v.communes} mais la liste des EPCI de {v.epci} : "
                   f"les populations des EPCI de {v.year} viennent de data/reference/epci.csv quand elle les a.")
    return out


# ---------------------------------------------------------------- derived geo files


def _csv_text(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def epci_rows(epcis: list[dict], ref: Reference, year: int, service_source: str) -> list[dict]:
    """The EPCI of the answer with what the summary says of each: type and where it comes from,
    population and its source.

    The population is the DGCL's for `year` (data/reference/epci.csv) when the table has the EPCI
    that year; the service's `population` only otherwise: the service updates its EPCI list
    separately from its communes and may serve last year's figures (see `geography_vintage`)."""
    known_types = dict(zip(ref.epci.siren, ref.epci.type))
    dgcl = ref.epci[ref.epci.annee_vigueur == year]
    table = {s: (int(p), src) for s, p, src in zip(dgcl.siren, dgcl.population_municipale, dgcl.source)}
    rows = []
    for e in epcis:
        kind, why = epci_kind(e, known_types)
        served = (e.get("type_service") or "").strip().upper() in EPCI_API_TYPES
        if e["siren"] in table:
            population, source, origin = *table[e["siren"]], "DGCL"
        elif e["population"] is not None:
            population, source, origin = e["population"], service_source, "service"
        else:
            raise FetchError(f"Population inconnue pour l’EPCI {e['siren']} « {e['nom']} » : absente de la réponse de "
                             f"l’API et de data/reference/epci.csv pour {year}")
        rows.append({**e, "type": kind, "origine_type": why, "type_du_service": served, "population": population,
                     "population_service": e["population"], "source": source, "origine_population": origin})
    return rows


def epci_files(epcis: list[dict], communes: list[dict], dep: str, year: int) -> dict[str, bytes]:
    """`epci_<dep>.geojson`, `epci_<dep>.csv` and `epci_<dep>_composition_<year>.csv`, from the
    rows of `epci_rows`."""
    names = {e["siren"]: e["nom"] for e in epcis}
    for c in communes:
        if c["codeEpci"] is not None and c["codeEpci"] not in names:
            raise FetchError(f"Réponses incohérentes de l’API géographique : la commune {c['code']} appartient à "
                             f"l’EPCI {c['codeEpci']}, absent de la liste des EPCI du département {dep}")
    geojson = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"siren": e["siren"], "nom": e["nom"], "type": e["type"],
                                           "population": e["population"]},
         "geometry": e["geometry"]} for e in epcis]}
    summary = _csv_text(["siren", "nom", "type", "population", "annee_vigueur", "source", "origine_type"],
                        [[e["siren"], e["nom"], e["type"], e["population"], year, e["source"], e["origine_type"]]
                         for e in epcis])
    composition = _csv_text(
        ["annee_dgcl", "siren_epci", "nom_epci", "insee", "nom_membre", "pmun"],
        [[year, c["codeEpci"] or "", names.get(c["codeEpci"], ""), c["code"], c["nom"],
          "" if c["population"] is None else c["population"]] for c in communes])
    return {
        f"geo/epci_{dep}.geojson": json.dumps(geojson, ensure_ascii=False).encode("utf-8"),
        f"geo/epci_{dep}.csv": summary,
        f"geo/epci_{dep}_composition_{year}.csv": composition,
    }


# ---------------------------------------------------------------- staging, manifest, replacement


@dataclass
class Staged:
    folder: Path
    entries: list[dict] = field(default_factory=list)

    def add(self, rel: str, body: bytes, url: str, when: dt.datetime, derived: bool, **extra) -> None:
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        self.entries.append({"fichier": rel, "adresse": url, "date": _iso(when), "taille": len(body),
                             "sha256": hashlib.sha256(body).hexdigest(), "derive": derived,
                             **{k: v for k, v in extra.items() if v is not None}})


def _old_entries(out: Path) -> list[str]:
    """Files listed in the cache's current manifest (those a new fetch replaces or retires)."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        names = [e["fichier"] for e in data["fichiers"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    safe = []
    for n in names:
        p = Path(str(n))
        if not p.is_absolute() and ".." not in p.parts and (out / p).is_file():
            safe.append(p.as_posix())
    return safe


def replace_cache(staging: Path, out: Path, files: list[str]) -> None:
    """Move the staged files into `out` with renames (same filesystem), the manifest last.

    The old manifest is set aside first, so that a manifest in `out` always describes the files
    next to it. Files of the old manifest that the new one does not list are retired. On an error
    every rename is undone and the previous cache is back as it was."""
    backup = out.with_name(f".{out.name}.ancien-{os.getpid()}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if backup.exists():
            shutil.rmtree(backup)
    except OSError as exc:
        raise FetchError(f"Impossible d’écrire dans le cache {display_path(out)} ({exc}) : "
                         "le cache n’a pas été modifié.") from None
    retired = [MANIFEST] + [f for f in _old_entries(out) if f not in files]
    done: list[tuple[Path, Path]] = []  # renames made, to undo in reverse order

    def move(src: Path, dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        done.append((src, dst))

    try:
        for rel in retired:
            if (out / rel).is_file():
                move(out / rel, backup / rel)
        for rel in files:
            if (out / rel).exists():
                move(out / rel, backup / rel)
            move(staging / rel, out / rel)
        move(staging / MANIFEST, out / MANIFEST)
    except BaseException as exc:  # an interruption (Ctrl-C) is undone too
        for src, dst in reversed(done):
            try:
                os.replace(dst, src)
            except OSError:
                pass
        shutil.rmtree(backup, ignore_errors=True)
        if not isinstance(exc, OSError):
            raise
        raise FetchError(f"Impossible de remplacer les fichiers du cache {display_path(out)} ({exc}) : "
                         "le cache précédent a été rétabli.") from None
    shutil.rmtree(backup, ignore_errors=True)


def read_manifest(folder: Path) -> list[dict] | None:
    """The entries of the manifest written by `rapport fetch`, found in `folder` or its parent
    (the cafdata and geo folders are subfolders of the cache); None if there is none.

    Each entry: fichier (path relative to the manifest's folder), adresse, date, taille, sha256,
    derive (True for a file computed from the API's answers rather than saved as received)."""
    folder = Path(folder)
    for cand in (folder / MANIFEST, folder.parent / MANIFEST):
        if not cand.is_file():
            continue
        try:
            data = json.loads(cand.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise DataError([Problem(display_path(cand), f"manifeste illisible ({_short(exc, 120)})")])
        entries = data.get("fichiers") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise DataError([Problem(display_path(cand), "manifeste invalide : liste « fichiers » attendue")])
        return entries
    return None


# ---------------------------------------------------------------- the command


@dataclass(frozen=True)
class FetchRequest:
    """What `rapport fetch` was asked for (explicit arguments, not the command line's Namespace)."""

    year: str | int
    departement: str = "17"
    out: Path | None = None
    cafdata_url: str = "https://data.caf.fr"
    geo_url: str = "https://geo.api.gouv.fr"
    timeout: float = 60.0
    retries: int = 3


def _params(req: FetchRequest) -> tuple[int, str]:
    text = str(req.year).strip()
    if not re.fullmatch(r"\d{4}", text):
        raise ParamError(_fr(f"--year : l’année doit être un nombre entier de quatre chiffres, par exemple 2023 "
                         f"(reçu : « {req.year} »)"))
    dep = str(req.departement).strip().upper()
    if not RE_DEP.match(dep):
        raise ParamError(_fr(f"--departement : code de département invalide (reçu : « {req.departement} » ; "
                         "attendu par exemple 17, 2A ou 974)"))
    if not req.timeout > 0:
        raise ParamError(_fr(f"--timeout : un délai strictement positif est attendu (reçu : {_seconds(req.timeout)})"))
    if req.retries < 1:
        raise ParamError(_fr(f"--retries : au moins un essai est nécessaire (reçu : {req.retries})"))
    return int(text), dep


def run_fetch(req: FetchRequest) -> int:
    year, dep = _params(req)
    out = Path(req.out or (config.DATA_DIR / "cache" / dep)).resolve()
    started = _now()
    ref = load_reference(config.DATA_DIR / "reference", dep, national=False)  # its own EPCI queries decide
    sirens = sorted(ref.sirens())

    staging = out.with_name(f".{out.name}.partiel-{os.getpid()}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if staging.exists():
            shutil.rmtree(staging)
        (staging / "cafdata").mkdir(parents=True)
        (staging / "geo").mkdir()
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise FetchError(f"Impossible de préparer le dossier de téléchargement {display_path(staging)} ({exc})") from None
    client = Client(req.timeout, req.retries)
    staged = Staged(staging)
    notes: list[str | None] = []  # what the summary says besides the files written
    try:
        epcis: list[dict] | None = None
        epci_url_used, epci_when = "", started

        def get_epcis():
            url = epcis_url(req.geo_url, dep)
            body, result, when = client.get(f"epci_{dep}.geojson", url, check_epcis)
            return result, url, when

        for dataset in CAFDATA_FILES:
            if dataset == "s_ben_epci_f" and not sirens:
                # unknown département for the reference table: its EPCI come from the API first
                epcis, epci_url_used, epci_when = get_epcis()
                sirens = sorted(e["siren"] for e in epcis)
            name = f"{dataset}_{dep}.csv"
            rel = f"cafdata/{name}"
            url = cafdata_url(req.cafdata_url, dataset, cafdata_where(dataset, dep, sirens))
            body, ds, when = client.get(name, url, lambda b, d=dataset, r=rel: check_cafdata(b, staging / r, d, dep))
            check_december(ds, name, url, year)
            staged.add(rel, body, url, when, derived=False, lignes_ecartees=dropped_rows(ds))
            notes.append(dropped_note(name, ds))

        communes_url_used = communes_url(req.geo_url, dep)
        communes_body, communes, communes_when = client.get(f"communes_{dep}.geojson", communes_url_used,
                                                            lambda b: check_communes(b, dep))
        if epcis is None:
            epcis, epci_url_used, epci_when = get_epcis()

        vintage = geography_vintage(communes, epcis, ref, started.date())
        geo_year = vintage.year
        staged.add(f"geo/communes_{dep}_{geo_year}.geojson", communes_body, communes_url_used, communes_when,
                   derived=False)
        source = f"API Découpage administratif ({_host(req.geo_url)}), {fmt.date_longue(epci_when.date())}"
        if vintage.epci is not None and vintage.epci != geo_year:
            source += f", populations de la liste DGCL {vintage.epci}"
        rows = epci_rows(epcis, ref, geo_year, source)
        from_dgcl = sum(e["origine_population"] == "DGCL" for e in rows)
        notes.append(f"Populations des EPCI ({geo_year}) : {fmt.nombre(from_dgcl)} de data/reference/epci.csv (DGCL), "
                     f"{fmt.nombre(len(rows) - from_dgcl)} de l’API Découpage administratif.")
        guessed = [e for e in rows if not e["type_du_service"]]
        if guessed:
            notes.append(f"Type des EPCI : {fmt.pluriel(len(guessed), 'EPCI')} sans type utilisable dans la réponse "
                         f"de l’API, type déduit du nom ou de data/reference/epci.csv ("
                         + " ; ".join(f"{e['siren']} : {e['type']}, {e['origine_type']}" for e in guessed) + ").")
        derived = epci_files(rows, communes, dep, geo_year)
        for rel, data in derived.items():
            from_communes = "composition" in rel
            staged.add(rel, data, communes_url_used if from_communes else epci_url_used,
                       communes_when if from_communes else epci_when, derived=True)

        manifest = {"departement": dep, "annee": year, "date": _iso(_now()),
                    "millesime_geographie": geo_year, "millesime_geographie_verifie": vintage.verified,
                    "millesime_geographie_origine": vintage.origin,
                    "millesime_communes_service": vintage.communes, "millesime_epci_service": vintage.epci,
                    "epci": [{"siren": e["siren"], "nom": e["nom"], "type": e["type"], "origine_type": e["origine_type"],
                              "population": e["population"], "source_population": e["source"],
                              "population_service": e["population_service"]} for e in rows],
                    "fichiers": staged.entries}
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        replace_cache(staging, out, [e["fichier"] for e in staged.entries])
    except OSError as exc:  # disk full, permissions… while writing the staging folder
        raise FetchError(f"Erreur d’écriture dans {display_path(staging)} ({exc}) : le cache n’a pas été modifié.") from None
    finally:
        client.close()
        shutil.rmtree(staging, ignore_errors=True)

    for e in staged.entries:
        print(_fr("écrit :"), out / e["fichier"])
    print(_fr("écrit :"), out / MANIFEST)
    for note in filter(None, notes):
        print(_fr(note))
    print(_fr(f"Données ouvertes du département {dep} téléchargées pour {year} ({len(staged.entries)} fichiers, "
          f"géographie {geo_year} {vintage.origin}). Pour construire le rapport avec ces données :"))
    caf_set = shlex.quote(f"cafdata_dir={out / 'cafdata'}")
    geo_set = shlex.quote(f"geo_dir={out / 'geo'}")
    print(f"  rapport build --year {year} --set {caf_set} --set {geo_set}")
    for w in vintage_warnings(vintage, started.date()):
        print(_fr(w), file=sys.stderr)
    return 0
