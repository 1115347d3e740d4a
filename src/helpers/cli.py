"""The `rapport` command line (messages in French)."""
from __future__ import annotations

import argparse
import errno
import logging
import re
import signal
import sys
import traceback
from pathlib import Path

from helpers import config, fmt, interruption
from helpers.errors import DataError, ParamError, RapportError

# argparse's own messages, in French: translated in a subclass (the argparse module is left untouched).
_FR_ERRORS = [
    (r"the following arguments are required: (.*)", r"arguments obligatoires manquants : \1"),
    (r"unrecognized arguments: (.*)", r"arguments non reconnus : \1"),
    (r"argument (\S+): expected one argument", r"argument \1 : une valeur est attendue"),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)", r"argument \1 : choix invalide : \2 (choix possibles : \3)"),
    (r"argument (\S+): invalid (\w+) value: (.*)", r"argument \1 : valeur invalide (\2) : \3"),
    (r"ambiguous option: (\S+) could match (.*)", r"option ambiguë : \1 (\2)"),
    (r"argument (\S+): (.*)", r"argument \1 : \2"),
]


def _french(message: str) -> str:
    for pattern, repl in _FR_ERRORS:
        if re.fullmatch(pattern, message, flags=re.S):
            return re.sub(pattern, repl, message, count=1, flags=re.S)
    return message


class _FrenchFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, prefix="utilisation : " if prefix is None else prefix)


class FrenchArgumentParser(argparse.ArgumentParser):
    """argparse with its headings, help option and errors in French."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _FrenchFormatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        # argparse writes "<title>:"; French puts a no-break space before the colon
        self._positionals.title = "arguments\u00a0"
        self._optionals.title = "options\u00a0"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="afficher cette aide et quitter")

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {_french(message)}\n")


log = logging.getLogger("rapport")
NBSP = fmt.NBSP  # French typography: no-break space before « : ; ! ? »


QUIET_HELP = "n’afficher que les erreurs"
DEBUG_HELP = "en cas d’erreur inattendue, afficher la trace Python complète"


def _debug(p: argparse.ArgumentParser) -> None:
    # also accepted after the command (rapport build --debug …); SUPPRESS: absent, it keeps the value before it
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)


def _common(p: argparse.ArgumentParser, batch: bool = False, dep_extra: str = "") -> None:
    year_help = "année du rapport (données au 31 décembre) ; il faut un fichier params/ANNÉE.yaml"
    dep_help = "code du département (par défaut : celui des paramètres, 17)"
    if batch:
        year_help += ". Un lot : 2021-2024 ou 2021,2023"
        dep_help += (". Un lot : 17,33, ou all (chaque département dont les données sont là : "
                     "data/opendata/CODE/cafdata ou data/cache/CODE/cafdata)")
    dep_help += dep_extra
    p.add_argument("--year", required=True, metavar="ANNÉE", help=year_help)
    p.add_argument("--departement", metavar="CODE", help=dep_help)
    p.add_argument("--params", metavar="FICHIER", type=Path, help="fichier YAML de paramètres supplémentaire")
    p.add_argument("--set", metavar="CLÉ=VALEUR", action="append", default=[], dest="sets",
                   help="impose un paramètre (répétable), par exemple --set cafdata_dir=chemin/vers/exports")
    p.add_argument("--demo", action="store_true",
                   help="construire sur le jeu de démonstration illustratif (data/demo) au lieu des données réelles")
    _debug(p)


def parser() -> argparse.ArgumentParser:
    ap = FrenchArgumentParser(
        prog="rapport",
        description="Construit le rapport d’activité de la Caf (chapitre «\u00a0Portrait du territoire\u00a0») "
                    "à partir des données : notebooks exécutés, HTML et PDF.",
        epilog="Exemple : rapport build --year 2023. Aide d’une commande : rapport build --help.")
    ap.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    ap.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = ap.add_subparsers(dest="commande", metavar="COMMANDE", title="commandes\u00a0")

    b = sub.add_parser("build", help="construire le rapport d’une année",
                       description="Vérifie paramètres et données, exécute les notebooks des chapitres avec Papermill, "
                                   "puis écrit le rapport en HTML et en PDF. Rien n’est publié si un chapitre échoue. "
                                   "Les chapitres tournent en parallèle ; un chapitre dont ni le notebook, ni le code, "
                                   "ni les paramètres, ni les fichiers lus n’ont changé est repris du cache "
                                   "(.cache à côté du dossier de sortie) ; si rien n’a changé, rien n’est reconstruit. "
                                   "Plusieurs années ou départements : un rapport par dossier, tous construits même si "
                                   "l’un échoue (code 1 si au moins un a échoué, la liste des échecs à la fin).")
    _common(b, batch=True)
    from helpers.chapters.registry import CHAPTER_MODULES

    b.add_argument("--chapters", metavar="LISTE",
                   help=f"chapitres, séparés par des virgules, parmi : {','.join(CHAPTER_MODULES)}")
    b.add_argument("--formats", metavar="LISTE", help="formats, séparés par des virgules : html,pdf")
    b.add_argument("--out", metavar="DOSSIER", type=Path,
                   help=f"dossier de sortie (par défaut{NBSP}: outputs/ANNÉE){NBSP}: inexistant, vide, ou déjà "
                        f"produit par rapport build{NBSP}; tout autre dossier est refusé. Pour un lot, le dossier "
                        f"qui reçoit ANNÉE/ (un département) ou DÉPARTEMENT/ANNÉE/ (plusieurs)")
    b.add_argument("--force", action="store_true",
                   help=f"ignorer le cache{NBSP}: réexécuter tous les chapitres, même si rien n’a changé")
    b.add_argument("--executor", metavar="dask://HÔTE:PORT",
                   help="exécuter les chapitres et mettre en page les PDF sur une grappe Dask distributed (paquet "
                        f"optionnel « distributed »){NBSP}; contrôles, HTML et publication restent sur cette machine")
    b.add_argument("--jobs", metavar="N", type=int,
                   help=f"chapitres exécutés en même temps (par défaut{NBSP}: le nombre de cœurs)")

    c = sub.add_parser("check", help="vérifier paramètres, registres et données sans construire",
                       description="Charge et vérifie tous les fichiers d’entrée ; affiche chaque problème "
                                   "(fichier, ligne, colonne) et sort avec un code non nul s’il y en a.")
    _common(c)

    f = sub.add_parser("fetch", help="télécharger les données ouvertes (Cafdata, contours, populations)",
                       description="Télécharge les exports Cafdata du département et les contours et populations "
                                   "des communes et EPCI dans un cache, avec un manifeste (adresse, date, taille, "
                                   "sha256). Le cache n’est remplacé qu’une fois tous les fichiers reçus et vérifiés.")
    f.add_argument("--year", required=True, metavar="ANNÉE", help="année du rapport à préparer")
    f.add_argument("--departement", metavar="CODE", default="17", help="code du département (par défaut : 17)")
    f.add_argument("--out", metavar="DOSSIER", type=Path, help="dossier du cache (par défaut : data/cache/CODE)")
    f.add_argument("--cafdata-url", metavar="URL", default="https://data.caf.fr",
                   help="adresse du portail Cafdata (Opendatasoft)")
    f.add_argument("--geo-url", metavar="URL", default="https://geo.api.gouv.fr", help="adresse de l’API géographique")
    f.add_argument("--timeout", metavar="SECONDES", type=float, default=60.0, help="délai d’attente par requête")
    f.add_argument("--retries", metavar="N", type=int, default=3, help="nombre d’essais par fichier")
    _debug(f)

    t = sub.add_parser("territoires", help="portrait de chaque EPCI (diagnostic partagé de sa CTG)",
                       description="Construit, avec le notebook 04_territoire, le portrait de chaque EPCI du "
                                   "département (HTML et PDF), en parallèle, avec un index et un PDF de tous les "
                                   "portraits. Un EPCI en échec n’arrête pas les autres ; le code de sortie est 1 "
                                   "s’il y en a un.")
    _common(t, dep_extra=f". Plusieurs{NBSP}: 17,2A, ou all (chaque département dont les données sont là){NBSP}; "
                         f"chacun dans DOSSIER/DÉP/ANNÉE, avec un index national dans DOSSIER/france/ANNÉE")
    t.add_argument("--epci", metavar="SIREN,…", help="SIREN des EPCI, séparés par des virgules, ou « all » (défaut)")
    t.add_argument("--out", metavar="DOSSIER", type=Path,
                   help=f"dossier de sortie (par défaut{NBSP}: outputs/territoires/ANNÉE{NBSP}; pour plusieurs "
                        f"départements, le dossier qui reçoit DÉP/ANNÉE/ et france/ANNÉE/, par défaut "
                        f"outputs/territoires)")
    t.add_argument("--executor", metavar="dask://HÔTE:PORT",
                   help="exécuter les portraits et mettre en page leurs PDF sur une grappe Dask distributed (paquet "
                        f"optionnel « distributed »){NBSP}; contrôles, index et publication restent sur cette machine")

    v = sub.add_parser("preview", help="aperçu en direct : reconstruit ce qui change et recharge la page",
                       description="Construit le rapport dans un dossier temporaire (jamais publié), le sert sur "
                                   "127.0.0.1, surveille notebooks, paquet, paramètres et données, reconstruit à "
                                   "chaque enregistrement et recharge la page ouverte. Ctrl-C arrête tout.")
    _common(v)
    v.add_argument("--chapters", metavar="LISTE", help="chapitres à construire, séparés par des virgules")
    v.add_argument("--port", metavar="N", type=int, default=8765, help="port local (par défaut : 8765)")
    v.add_argument("--no-browser", action="store_true", help="ne pas ouvrir le navigateur")

    d = sub.add_parser("demo", help="régénérer le jeu de démonstration intégré (data/demo)",
                       description="Régénère, avec la même graine, le jeu de démonstration illustratif de data/demo.")
    d.add_argument("--out", metavar="DOSSIER", type=Path, default=config.DATA_DIR / "demo")
    _debug(d)
    return ap


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [x.strip() for x in value.split(",") if x.strip()]


def _resolve(args):
    from helpers.params import parse_set, resolve
    overrides = parse_set(args.sets)
    if getattr(args, "demo", False):
        overrides["demo"] = True  # passed on to the kernels with the other overrides
    extra = {}
    if getattr(args, "chapters", None) is not None:
        extra["chapters"] = _split(args.chapters)
    if getattr(args, "formats", None) is not None:
        extra["formats"] = _split(args.formats)
    resolved = resolve(args.year, args.departement, args.params, overrides, cli_extra=extra)
    return resolved, overrides


def _check_executor(executor: str | None) -> None:
    m = re.fullmatch(r"dask://[^\s/:]+:([0-9]{1,5})", executor or "")
    if executor is not None and not (m and 1 <= int(m.group(1)) <= 65535):
        raise ParamError(f"Paramètre « --executor » : dask://HÔTE:PORT attendu (port de 1 à 65535), "
                         f"reçu « {executor} »")


def cmd_build(args) -> int:
    from helpers import batch
    from helpers.progress import Progress
    if args.jobs is not None and args.jobs < 1:
        raise ParamError(f"Paramètre « --jobs » : un nombre entier supérieur ou égal à 1 est attendu, reçu « {args.jobs} »")
    _check_executor(args.executor)
    years = batch.years(args.year)
    deps = batch.departements(args.departement)
    progress = Progress(enabled=not args.quiet)
    if len(years) == 1 and len(deps) == 1:
        from helpers.build import build
        args.year, args.departement = years[0], deps[0]
        resolved, overrides = _resolve(args)
        out = args.out or (config.OUTPUTS_DIR / str(resolved.params.year))
        written = build(resolved, out, args.params, overrides, force=args.force, jobs=args.jobs, progress=progress,
                        executor=args.executor)
        if written.unchanged:
            print(f"rapport{NBSP}: {written.unchanged}")
        for w in written:
            print(fmt.message(f"écrit : {w}"))
        return 0
    return batch.run_batch(args, years, deps, progress, _resolve)


def cmd_check(args) -> int:
    from helpers.build import check
    resolved, _ = _resolve(args)
    checked = check(resolved)
    print(f"Aucun problème bloquant : {len(checked.files)} fichiers vérifiés pour {resolved.params.year} "
          f"(département {resolved.params.departement}).")
    for w in checked.warnings:  # not blocking, but a figure may be false: said even with -q
        print(fmt.message(f"Attention : {w}"))
    for n in checked.notes:
        print(fmt.message(f"Remarque : {n}"))
    return 0


def cmd_fetch(args) -> int:
    from helpers.data.fetch import FetchRequest, run_fetch

    return run_fetch(FetchRequest(args.year, args.departement, args.out, args.cafdata_url, args.geo_url,
                                  args.timeout, args.retries))


def cmd_territoires(args) -> int:
    from helpers.params import parse_set
    from helpers.territoires import run_territoires

    if args.epci is not None and not _split(args.epci):  # `--epci ''` is not « every EPCI »
        raise ParamError(f"Paramètre « --epci »{NBSP}: au moins un SIREN est attendu (ou «{NBSP}all{NBSP}»), reçu "
                         f"«{NBSP}{args.epci}{NBSP}»")
    _check_executor(args.executor)
    overrides = parse_set(args.sets)
    if args.demo:
        overrides["demo"] = True
    return run_territoires(args.year, args.departement, args.params, overrides, _split(args.epci), args.out,
                           executor=args.executor)


def cmd_preview(args) -> int:
    from helpers.params import parse_set
    from helpers.preview import run_preview

    overrides = parse_set(args.sets)
    if args.demo:
        overrides["demo"] = True
    return run_preview(args.year, args.departement, args.params, overrides, _split(args.chapters), args.port,
                       not args.no_browser)


def cmd_demo(args) -> int:
    from helpers.data.demo import generate
    for p in generate(args.out, config.DATA_DIR / "reference"):
        print(fmt.message(f"écrit : {p}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    for h in list(log.handlers):  # main() may run several times in one process (tests)
        log.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("rapport : %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.ERROR if args.quiet else logging.INFO)
    log.propagate = False
    logging.basicConfig(level=logging.ERROR)
    if args.commande is None:
        ap.print_help()
        return 2
    from helpers import sortie
    sortie.nettoyer_temporaires()  # every command first removes what killed processes left in $TMPDIR
    # SIGINT, SIGTERM and SIGHUP all raise Interrompu: the build stops its kernels and removes its folders.
    with interruption.geres():
        try:
            return {"build": cmd_build, "check": cmd_check, "fetch": cmd_fetch, "demo": cmd_demo,
                "preview": cmd_preview, "territoires": cmd_territoires}[args.commande](args)
        except ParamError as exc:
            print(fmt.message(f"Erreur de paramètre :\n{exc}"), file=sys.stderr)
            return exc.exit_code
        except DataError as exc:
            n = len(exc.problems)
            print(fmt.message(f"Erreur dans les données ({n} problème{'s' if n > 1 else ''}) :\n{exc}"), file=sys.stderr)
            return 1
        except RapportError as exc:
            print(fmt.message(f"Erreur : {exc}"), file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt as exc:
            return _interrupted(exc, args.commande)
        except Exception as exc:  # a bug or an unforeseen input: one line, the trace only when asked for
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # not a bug: say what to do
                where = f" ({exc.filename})" if exc.filename else ""
                print(f"Erreur{NBSP}: plus de place sur le disque{where}."
                      + (" Rien n’a été publié, le dossier de construction a été supprimé." if args.commande == "build"
                         else "") + " Libérez de la place, puis relancez.", file=sys.stderr)
                return 1
            if isinstance(exc, OSError) and exc.errno in _OS_ERRORS:  # the system's reason, in French
                where = f"{NBSP}: «{NBSP}{exc.filename}{NBSP}»" if exc.filename else ""
                print(f"Erreur{NBSP}: {_OS_ERRORS[exc.errno]}{where}."
                      + (" Rien n’a été publié." if args.commande == "build" else ""), file=sys.stderr)
                return 1
            if args.debug:
                traceback.print_exc()
            detail = " ".join(str(exc).split())
            print(f"Erreur inattendue ({type(exc).__name__}{NBSP + ': ' + detail if detail else ''})."
                  + (" Rien n’a été publié." if args.commande == "build" else "")
                  + ("" if args.debug else " Relancer avec --debug pour afficher la trace complète."), file=sys.stderr)
            return 1


# System errors a user can meet on a path given (output folder, data folder): said in French, never as strerror.
_OS_ERRORS = {
    errno.ELOOP: "lien symbolique en boucle (le lien mène à lui-même)",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENAMETOOLONG: "chemin trop long pour le système de fichiers",
    errno.EACCES: "accès refusé (droits du fichier ou du dossier)",
    errno.EPERM: "opération non permise (droits du fichier ou du dossier)",
    errno.ENOTDIR: "un élément du chemin est un fichier, pas un dossier",
}


def _interrupted(exc: KeyboardInterrupt, commande: str) -> int:
    """French message and the shell's code for a process stopped by a signal (128 + its number)."""
    if not isinstance(exc, interruption.Interrompu):  # a KeyboardInterrupt raised by other means
        exc = interruption.Interrompu(signal.SIGINT)
    detail = exc.detail or ("rien n’a été publié." if commande == "build" else "arrêt demandé.")
    try:
        print(f"Interrompu ({exc.nom}){NBSP}: {detail}", file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):  # SIGHUP: the terminal may be gone
        pass
    return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
