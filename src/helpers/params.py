"""One typed parameter model, merged from defaults < year < --params file < --set.

Every value is checked before any kernel starts; a problem names the key and where it came
from, in French.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from helpers import config
from helpers.chapters.registry import CHAPTER_MODULES, EXTRA_MODULES
from helpers.errors import ParamError, RapportError, display_path

FormatName = Literal["html", "pdf"]
MAX_TEXT = 500  # characters of a text parameter (a title, the Caf's name): more is a mistake, not a title
MAX_PARAMS_BYTES = 1_000_000  # a parameters file is a few lines of YAML
MAX_SHOWN = 80  # characters of a refused value repeated in a message


class Parametres(BaseModel):
    """Everything a chapter may receive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int = Field(ge=2016, le=2100, description="année du rapport (données de décembre)")
    departement: str = Field(pattern=r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$")
    caf_name: str = Field(min_length=3, max_length=MAX_TEXT)  # default: "Caf de la <département>" (data/reference/departements.csv)
    data_dir: Path
    demo: bool = False  # build on the illustrative demo data (data_dir/demo) instead of real open data
    opendata_dir: Path | None = None  # embedded real open data: <opendata_dir>/<departement>/, <opendata_dir>/national/
    cafdata_dir: Path | None = None  # default: embedded open data of the département, else the fetched cache
    geo_dir: Path | None = None  # boundaries and populations; default as cafdata_dir; absent: no maps
    extraits_dir: Path | None = None  # the Caf's internal extracts: <extraits_dir>/<departement>/
    registers_dir: Path
    reference_dir: Path
    chapters: list[str] = Field(default_factory=lambda: list(CHAPTER_MODULES))  # chapters.registry
    formats: list[FormatName] = ["html", "pdf"]
    published: dict[str, float] = {}  # figures published in that year's report
    report_title: str = Field(default="Portrait du territoire", max_length=MAX_TEXT)
    territoire: str | None = Field(default=None, pattern=r"^\d{9}$")  # SIREN of an EPCI: a territorial portrait

    @field_validator("chapters")
    @classmethod
    def _known_chapters(cls, v):
        unknown = [c for c in v if c not in CHAPTER_MODULES + EXTRA_MODULES]
        if unknown:
            raise ValueError(f"chapitre inconnu « {unknown[0]} » (valeurs possibles : "
                             f"{', '.join(CHAPTER_MODULES + EXTRA_MODULES)})")
        return v

    @field_validator("chapters", "formats")
    @classmethod
    def _not_empty(cls, v):
        if not v:
            raise ValueError("la liste ne peut pas être vide")
        if len(set(v)) != len(v):
            raise ValueError("la liste contient un doublon")
        return v

    @property
    def observation_date(self) -> dt.date:
        """Every figure of the report is computed at 31 December of its year: the commune data of
        Cafdata exist only for Decembers, and the registers are read at the same date."""
        return dt.date(self.year, 12, 31)

    @property
    def cafdata_path(self) -> Path | None:
        return self.cafdata_dir

    @property
    def national_dir(self) -> Path | None:
        """Open data covering every département (département series, national series)."""
        if self.opendata_dir is None or self.demo:
            return None
        p = Path(self.opendata_dir) / "national"
        return p if p.is_dir() else None

    @property
    def opendata_dep_dir(self) -> Path | None:
        """Embedded open data of the département (childcare coverage, …), if any."""
        if self.opendata_dir is None or self.demo:
            return None
        p = Path(self.opendata_dir) / self.departement
        return p if p.is_dir() else None

    @property
    def extraits_path(self) -> Path | None:
        if self.extraits_dir is None:
            return None
        p = Path(self.extraits_dir) / self.departement
        return p if p.is_dir() else None

    def to_jsonable(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())


PATH_KEYS = ("data_dir", "opendata_dir", "cafdata_dir", "geo_dir", "extraits_dir", "registers_dir", "reference_dir")
OPTIONAL_PATHS = ("opendata_dir", "cafdata_dir", "geo_dir", "extraits_dir")


def default_data_folders(merged: dict[str, Any], origins: dict[str, str]) -> None:
    """Where the Cafdata exports and the boundaries come from when no folder is given: the demo
    data if asked for; else the real open data shipped for the département (data/opendata/<dep>);
    else the cache written by `rapport fetch` (data/cache/<dep>); else none (the build then says
    which `rapport fetch` command to run)."""
    dep = merged.get("departement")
    data_dir = merged.get("data_dir")
    if not isinstance(dep, str) or not isinstance(data_dir, Path):
        return
    opendata = merged.get("opendata_dir")
    for key, sub in (("cafdata_dir", "cafdata"), ("geo_dir", "geo")):
        if merged.get(key) is not None:
            continue
        if merged.get("demo") is True:
            if key == "cafdata_dir":
                merged[key], origins[key] = data_dir / "demo", "--demo (jeu de démonstration illustratif)"
            continue
        candidates = []
        if isinstance(opendata, Path):
            candidates.append((opendata / dep / sub, "données ouvertes intégrées au projet"))
        candidates.append((data_dir / "cache" / dep / sub, "cache de rapport fetch"))
        for folder, what in candidates:
            if folder.is_dir():
                merged[key], origins[key] = folder, f"déduit : {what} ({display_path(folder)})"
                break


def published_file(reference_dir: Path | None, departement: str, year: int) -> Path | None:
    """The figures published in that year's report, for that département (data/reference/publies)."""
    if reference_dir is None:
        return None
    p = Path(reference_dir) / "publies" / departement / f"{year}.yaml"
    return p if p.is_file() else None

_TYPE_MESSAGES = {
    "int_parsing": "un nombre entier est attendu",
    "int_type": "un nombre entier est attendu",
    "int_from_float": "un nombre entier est attendu",
    "float_parsing": "un nombre est attendu",
    "float_type": "un nombre est attendu",
    "string_type": "un texte est attendu",
    "date_from_datetime_parsing": "une date AAAA-MM-JJ est attendue",
    "date_parsing": "une date AAAA-MM-JJ est attendue",
    "date_type": "une date AAAA-MM-JJ est attendue",
    "list_type": "une liste est attendue",
    "dict_type": "un dictionnaire (clé: valeur) est attendu",
    "path_type": "un chemin de dossier est attendu",
    "missing": "valeur obligatoire absente",
    "extra_forbidden": "paramètre inconnu",
    "string_pattern_mismatch": "format invalide",
    "string_too_short": "texte trop court",
    "string_too_long": "texte trop long",
    "bool_parsing": "oui/non attendu (true ou false)",
    "bool_type": "oui/non attendu (true ou false)",
    "too_long": "liste trop longue",
}


def _french_error(err: dict) -> str:
    t = err["type"]
    ctx = err.get("ctx", {})
    if t == "greater_than_equal":
        return f"doit être supérieur ou égal à {ctx.get('ge')}"
    if t == "less_than_equal":
        return f"doit être inférieur ou égal à {ctx.get('le')}"
    if t == "literal_error":
        return f"valeur non reconnue (valeurs possibles : {ctx.get('expected', '')})".replace(" or ", ", ")
    if t == "value_error":
        return str(ctx.get("error", err["msg"]))
    if t in ("date_from_datetime_parsing", "date_parsing") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(err.get("input"))):
        return "date impossible (ce jour n’existe pas dans le calendrier)"
    if t == "string_too_long":
        return f"texte trop long (au plus {ctx.get('max_length')} caractères)"
    return _TYPE_MESSAGES.get(t, f"valeur invalide ({t})")  # never pydantic's English


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: a date stays text until the model checks it, so that an impossible
    one (2023-02-30) is refused with the key it belongs to rather than failing while the file is read."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class AliasRefused(yaml.YAMLError):
    """A YAML alias (`*name`) in a parameters file: refused, since nested aliases expand without bound."""

    def __init__(self, mark):
        super().__init__()
        self.problem_mark = mark
        self.problem = "alias YAML (« *nom ») refusé : écrivez la valeur elle-même"


def _compose_node(self, parent, index):
    if self.check_event(yaml.events.AliasEvent):
        raise AliasRefused(self.peek_event().start_mark)
    return yaml.SafeLoader.compose_node(self, parent, index)


_Loader.compose_node = _compose_node


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """`KEY=VALUE` pairs; the value is read as YAML (numbers, lists; dates stay text until checked)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ParamError(f"--set « {item} » : la forme attendue est CLÉ=VALEUR")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ParamError(f"--set « {item} » : clé vide")
        try:
            value = _load(raw) if raw.strip() else None
        except (yaml.YAMLError, ValueError):
            value = raw
        out[key] = value
    return out


def _megabytes(n: int) -> str:
    from helpers import fmt

    return f"{fmt.nombre(n / 1e6, 1)}\u00a0Mo"


def _read_yaml(path: Path, label: str) -> dict[str, Any]:
    try:
        if path.is_file() and path.stat().st_size > MAX_PARAMS_BYTES:
            raise ParamError(f"{label} : fichier trop gros ({_megabytes(path.stat().st_size)}) pour un fichier de "
                             f"paramètres (au plus {_megabytes(MAX_PARAMS_BYTES)})")
        data = _load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ParamError(f"{label} : ce n’est pas un fichier texte en UTF-8 (octet {exc.start} illisible) ; "
                         "un fichier de paramètres est un fichier YAML")
    except yaml.reader.ReaderError as exc:
        raise ParamError(f"{label} : ce n’est pas un fichier texte YAML (caractère interdit, position "
                         f"{exc.position})")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", ligne {mark.line + 1}" if mark else ""
        raise ParamError(f"{label} : fichier YAML illisible{where} ({getattr(exc, 'problem', exc)})")
    except FileNotFoundError:
        raise ParamError(f"{label} : fichier introuvable")
    except IsADirectoryError:
        raise ParamError(f"{label} : c’est un dossier, pas un fichier de paramètres YAML")
    except PermissionError:
        raise ParamError(f"{label} : lecture refusée (droits du fichier)")
    except OSError as exc:
        raise ParamError(f"{label} : fichier illisible (erreur système {exc.errno})")
    except ValueError as exc:  # a value YAML could not build
        raise ParamError(f"{label} : valeur illisible ({exc})")
    if not isinstance(data, dict):
        raise ParamError(f"{label} : le fichier doit contenir des paires clé: valeur")
    return data


class Resolved(BaseModel):
    """The checked parameters and, for each key, where its value came from."""

    model_config = ConfigDict(frozen=True)

    params: Parametres
    origins: dict[str, str]


def resolve(
    year: int | str,
    departement: str | None = None,
    params_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    params_dir: Path | None = None,
    cli_extra: dict[str, Any] | None = None,
) -> Resolved:
    """Merge defaults < <year>.yaml < params_file < overrides, then check everything."""
    params_dir = params_dir or config.PARAMS_DIR
    overrides = dict(overrides or {})
    if "year" in overrides:
        year = overrides["year"]
    try:
        year_int = int(str(year))
    except ValueError:
        src = "--set" if "year" in overrides else "--year"
        raise ParamError(f"Paramètre « year » (venant de {src}) : un nombre entier est attendu, reçu « {year} »")

    layers: list[tuple[str, dict[str, Any]]] = []
    defaults = params_dir / "defaults.yaml"
    layers.append((display_path(defaults), _read_yaml(defaults, display_path(defaults))))
    year_file = params_dir / f"{year_int}.yaml"
    if not year_file.is_file():
        known = sorted(p.stem for p in params_dir.glob("[0-9][0-9][0-9][0-9].yaml"))
        raise ParamError(
            f"Paramètre « year » : aucune paramétrisation pour l’année {year_int} "
            f"(fichier {display_path(year_file)} absent). Années disponibles : {', '.join(known)}."
        )
    layers.append((display_path(year_file), _read_yaml(year_file, display_path(year_file))))
    if params_file is not None:
        pf = Path(params_file)
        extra = _read_yaml(pf, f"--params {pf}")
        if "year" in extra and str(extra["year"]) != str(year_int):
            # the year chooses params/<year>.yaml before this file is read: it cannot change it here
            raise ParamError(f"--params {pf} : clé « year » ({extra['year']}) différente de l’année demandée "
                             f"({year_int}) ; l’année se choisit avec --year, retirez-la du fichier")
        layers.append((f"--params {pf}", extra))
    cli: dict[str, Any] = {"year": year_int}
    if departement is not None:
        cli["departement"] = str(departement)
    cli.update(cli_extra or {})
    layers.append(("ligne de commande", cli))
    layers.append(("--set", overrides))

    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for label, values in layers:
        for key, value in values.items():
            if key == "published" and isinstance(value, dict) and isinstance(merged.get(key), dict):
                value = {**merged[key], **value}
            merged[key] = value
            origins[key] = label
    if "year" in overrides:
        origins["year"] = "--set"

    # Relative paths are relative to the project root (or to the --params file's folder).
    for key in PATH_KEYS:
        v = merged.get(key)
        if isinstance(v, str) and v:
            p = Path(v).expanduser()
            if not p.is_absolute():
                base = config.ROOT
                if origins.get(key, "").startswith("--params") and params_file is not None:
                    base = Path(params_file).resolve().parent
                elif origins.get(key) in ("--set", "ligne de commande"):
                    base = Path.cwd()
                p = (base / p).resolve()
            merged[key] = p
        elif v == "" or v is None:
            merged[key] = None if key in OPTIONAL_PATHS else v
    default_data_folders(merged, origins)
    if "published" not in merged and isinstance(merged.get("departement"), str):
        pf = published_file(merged.get("reference_dir"), merged["departement"], year_int)
        if pf is not None:
            pub = _read_yaml(pf, display_path(pf)).get("chiffres")
            if not isinstance(pub, dict):
                raise ParamError(f"{display_path(pf)} : la clé « chiffres » (indicateur: valeur) est absente")
            merged["published"], origins["published"] = pub, display_path(pf)

    if not merged.get("caf_name") and isinstance(merged.get("departement"), str):
        name = caf_name_for(merged["departement"], merged.get("reference_dir"))
        if name:
            merged["caf_name"] = name
            origins["caf_name"] = "déduit du département (data/reference/departements.csv)"

    # codes written without quotes (`--set departement=17`, `territoire: 241700459`) are read by YAML as numbers
    for key in ("departement", "territoire"):
        if isinstance(merged.get(key), int) and not isinstance(merged.get(key), bool):
            merged[key] = str(merged[key])
    if "observation_date" in merged:
        raise ParamError(
            f"Paramètre « observation_date » (venant de {origins.get('observation_date', '?')}) : ce n’est plus un "
            "paramètre ; le rapport est toujours calculé au 31 décembre de l’année (les données communales de "
            "Cafdata n’existent qu’en décembre, et les registres sont lus à la même date). Retirez cette clé.")
    if merged.get("departement") == "976":
        raise RapportError(MAYOTTE)
    try:
        params = Parametres(**merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            if not err["loc"]:  # a check across keys (the model's validator)
                lines.append(f"Paramètres incohérents : {_french_error(err)}")
                continue
            key = ".".join(str(x) for x in err["loc"])
            top = str(err["loc"][0]) if err["loc"] else ""
            src = origins.get(top, "valeur par défaut du modèle")
            got = err.get("input")
            text = str(got)
            if len(text) > MAX_SHOWN:  # a 50 MB title is not repeated in the message
                text = f"{text[:MAX_SHOWN]}… ({len(text)} caractères)"
            shown = "" if err["type"] in ("missing",) or isinstance(got, dict) else f", reçu « {text} »"
            lines.append(f"Paramètre « {key} » (venant de {src}) : {_french_error(err)}{shown}")
        raise ParamError("\n".join(lines))

    for key in PATH_KEYS:
        p = getattr(params, key)
        if p is not None and not Path(p).is_dir():
            raise ParamError(
                f"Paramètre « {key} » (venant de {origins.get(key, '?')}) : dossier introuvable « {p} »"
            )
    return Resolved(params=params, origins=origins)


# Mayotte has no Caf: a build for it is refused (exit 1) before any data is read or kernel started
MAYOTTE = ("Département 976 (Mayotte) : aucun rapport de Caf ne peut être construit. Mayotte n’a pas de Caf : "
           "les prestations familiales et sociales y sont versées par la Caisse de sécurité sociale de Mayotte "
           "(CSSM), et les données ouvertes Cafdata n’ont aucune ligne pour le 976.")


def departement_row(departement: str, reference_dir: Path | None) -> dict[str, str] | None:
    """The département's row of the public list of départements (code, nom, article)."""
    import csv

    path = Path(reference_dir or config.DATA_DIR / "reference") / "departements.csv"
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        return next((row for row in csv.DictReader(f, delimiter=";") if row["code"] == departement), None)


def caf_name_for(departement: str, reference_dir: Path | None) -> str | None:
    """`Caf de la Charente-Maritime`, from the public list of départements."""
    row = departement_row(departement, reference_dir)
    if row is None:
        return None
    sep = "" if row["article"].endswith("’") else " "
    return f"Caf {row['article']}{sep}{row['nom']}"


def describe(resolved: Resolved) -> list[tuple[str, str, str]]:
    """(key, value, origin) rows for logs and the provenance annex."""
    rows = []
    for key, value in resolved.params.to_jsonable().items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        rows.append((key, shown, resolved.origins.get(key, "valeur calculée")))
    return rows
