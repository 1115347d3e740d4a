"""The output folder belongs to the report: checked before anything runs, built aside, published in one step.

Layout, for `--out DOSSIER/2023`:

    DOSSIER/2023                      symbolic link to the folder of the last build (relative: `.2023.publie-…`)
    DOSSIER/.2023.publie-<jeton>/     the published report, with its marker file MARQUE (and, until the
                                      next build, the report it replaced)
    DOSSIER/.2023.partiel-<jeton>/    a build in progress (its marker names the process)
    DOSSIER/2023.echec/               the partial notebooks of the last failed build

A build writes only into its own `.partiel-` folder. Publication renames it to `.publie-` (the link
still points at the previous report), then replaces the link by a new one with `os.replace`, an
atomic rename: at every instant `2023` is either the previous report or the new one. The replaced
report is kept until the next build (a reader that followed the link just before the swap still
finds its files), then removed. A previous layout where `2023` is a real folder holding a
report is replaced the same way, by exchanging it with the new link (`renameat2(RENAME_EXCHANGE)`
on Linux; elsewhere, two renames).

The target must be absent, empty, or a report folder: one that carries the marker MARQUE, written by every
build. Content alone proves nothing (a folder of signed `rapport-2019.pdf … rapport-2022.pdf` is an archive
the tool never wrote): a folder without the marker is refused, never moved nor deleted. The target can be
neither an input folder, nor inside one, nor contain one. Anything else is refused before anything is written. Folders of builds whose process
is gone (killed, machine rebooted) are removed by the next build to the same target.
"""
from __future__ import annotations

import ctypes
import datetime as dt
import errno
import json
import os
import re
import secrets
import shutil
import socket
import sys
from pathlib import Path

from .cache import atomic_write
from .errors import ParamError, RapportError, display_path
from .fmt import NBSP as ESP  # the no-break space: before « : ; ! ? », inside guillemets

MARQUE = ".rapport-caf.json"  # marker file of every folder a build creates
OUTIL = "rapport build"
# a build's own folders next to the output: .NAME.KIND-PID-HEX (previous layout: .NAME.KIND-PID, no marker)
_INTERNE = re.compile(r"\.(?P<nom>.+)\.(?P<genre>partiel|publie|ancien|lien)-(?P<pid>\d+)(?:-[0-9a-f]+)?")
_ANCIEN_RAPPORT = re.compile(r"rapport-\d{4}(?:-[a-z0-9_-]+)?\.(?:html|pdf)")
_AUTRE_HOTE_DELAI = dt.timedelta(hours=24)  # a build on another machine sharing the folder: assumed alive this long


def g(text: object) -> str:
    """« text », with no-break spaces."""
    return f"«{ESP}{text}{ESP}»"


class SortieRefusee(ParamError):
    """The output folder is refused: nothing has been written (exit code 2, like any refused parameter)."""


# --- who owns a folder ---------------------------------------------------------------------------------

def _debut_processus(pid: int) -> int | None:
    """Start time of a process (clock ticks since boot, Linux), to tell a live build from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def proprietaire() -> dict:
    """What a marker says about the build that wrote it."""
    return {"outil": OUTIL, "pid": os.getpid(), "debut": _debut_processus(os.getpid()),
            "hote": socket.gethostname(), "cree": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def ecrire_marque(folder: Path, **extra) -> None:
    (folder / MARQUE).write_text(json.dumps({**proprietaire(), **extra}, ensure_ascii=False, indent=1) + "\n",
                                 encoding="utf-8")


def lire_marque(folder: Path) -> dict | None:
    try:
        info = json.loads((folder / MARQUE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("outil") == OUTIL else None


def vivant(info: dict) -> bool:
    """Is the build that wrote this marker still running? In doubt, yes (its folder is then left alone)."""
    try:
        pid = int(info["pid"])
    except (KeyError, TypeError, ValueError):
        return True
    hote = info.get("hote")
    if hote and hote != socket.gethostname():
        try:
            cree = dt.datetime.fromisoformat(info["cree"])
        except (KeyError, TypeError, ValueError):
            return True
        return dt.datetime.now(dt.timezone.utc) - cree < _AUTRE_HOTE_DELAI
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    debut = info.get("debut")
    actuel = _debut_processus(pid)
    return not (debut is not None and actuel is not None and debut != actuel)  # else: the pid was reused


def _rapport_ancien(folder: Path) -> bool:
    """What a staging folder of the previous code held (no marker): only rapport-*.html/pdf files and
    notebooks/*.ipynb. Only trusted for a folder named like the tool's own (`.OUT.partiel-PID`), never for `--out`."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return False
    if not entries:
        return False
    for e in entries:
        if e.name == "notebooks" and e.is_dir() and not e.is_symlink():
            if not all(n.suffix == ".ipynb" and n.is_file() and not n.is_symlink() for n in e.iterdir()):
                return False
        elif not (_ANCIEN_RAPPORT.fullmatch(e.name) and e.is_file() and not e.is_symlink()):
            return False
    return True


def est_rapport(folder: Path) -> bool:
    """A folder a build wrote: it carries the marker. Its content alone proves nothing (an archive of reports
    looks the same): without the marker, a folder is not ours and is never moved nor deleted."""
    return folder.is_dir() and not folder.is_symlink() and lire_marque(folder) is not None


def _vide(folder: Path) -> bool:
    try:
        return not any(folder.iterdir())
    except OSError:
        return False


def _cible_du_lien(out: Path) -> Path | None:
    """The folder our link `out` points at (a sibling), or None if `out` is not such a link."""
    try:
        target = os.readlink(out)
    except OSError:
        return None
    m = _INTERNE.fullmatch(target)
    if "/" in target or not m or m["nom"] != out.name or m["genre"] != "publie":
        return None
    return out.with_name(target)


# --- checking the target, before anything runs ----------------------------------------------------------

def normaliser(out: Path | str) -> Path:
    """Absolute path of the output as named: the parent is resolved, the last component is kept (it may be
    our link, which must be replaced, not followed)."""
    a = Path(os.path.abspath(os.fspath(out)))
    if not a.name:
        raise SortieRefusee(f"Le dossier de sortie {g(out)} est la racine du système de fichiers.")
    return a.parent.resolve() / a.name


def _montrer(path: Path) -> str:
    """A path for a message: relative to the project when inside it, else absolute."""
    shown = display_path(path)
    return str(path) if shown in ("", ".") else shown


def _apercu(folder: Path, n: int = 5) -> str:
    try:
        names = sorted(e.name + ("/" if e.is_dir() else "") for e in folder.iterdir())
    except OSError:
        return ""
    more = f", … ({len(names)} éléments)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def verifier(out: Path | str, entrees: list[tuple[str, Path | None]], racine: Path | None = None) -> Path:
    """Refuse, before anything is written, an output that is not the report's own. Returns the normalised path.

    `entrees`: (label, path) of every input (folders, files), in French (« le dossier des notebooks »); the
    output may not be one, contain one, or be inside an input folder. `racine`: the project; the output may not
    be it or contain it, but may be inside it (outputs/)."""
    out = normaliser(out)
    shown = _montrer(out)
    conseil = (f"Choisissez avec --out un dossier inexistant ou vide, ou un dossier déjà produit par "
               f"{g(OUTIL)}.")
    m = _INTERNE.fullmatch(out.name)
    if m:
        raise SortieRefusee(f"Le dossier de sortie {g(shown)} est un dossier de travail interne d’une construction, "
                            f"pas un dossier de rapport. {conseil}")
    lien = _cible_du_lien(out)
    reel = lien if lien is not None else out.resolve()
    # (noun phrase, path, may the output be inside?); every label is masculine: « le … », « du … »
    controles = [(label, Path(path).resolve(), True) for label, path in entrees if path is not None]
    if racine is not None:
        controles.insert(0, ("dossier du projet", Path(racine).resolve(), False))
    cibles = {out, reel}
    for label, p, _ in controles:
        if p in cibles:
            raise SortieRefusee(f"Le dossier de sortie {g(shown)} est le {label}{ESP}: il ne peut pas être "
                                f"remplacé par le rapport. {conseil}")
    for label, p, _ in controles:
        if any(p.is_relative_to(o) for o in cibles):
            raise SortieRefusee(f"Le dossier de sortie {g(shown)} contient le {label} ({g(_montrer(p))}){ESP}: "
                                f"il ne peut pas être remplacé par le rapport. {conseil}")
    # the innermost input folder is the one to name (data/registers rather than data)
    for label, p, dedans_interdit in sorted(controles, key=lambda c: -len(c[1].parts)):
        if dedans_interdit and p.is_dir() and any(o.is_relative_to(p) for o in cibles):
            raise SortieRefusee(f"Le dossier de sortie {g(shown)} est à l’intérieur du {label} "
                                f"({g(_montrer(p))}){ESP}: les entrées ne reçoivent pas de sorties. {conseil}")
    if out.is_symlink():
        if lien is None:
            raise SortieRefusee(f"Le dossier de sortie {g(shown)} est un lien symbolique qui n’a pas été créé par "
                                f"{g(OUTIL)} (il pointe vers {g(os.readlink(out))}){ESP}: il n’est pas remplacé. "
                                f"{conseil}")
        if lien.exists() and not est_rapport(lien):
            raise SortieRefusee(f"Le dossier de sortie {g(shown)} pointe vers {g(_montrer(lien))}, qui n’est "
                                f"pas un dossier de rapport. {conseil}")
    elif out.exists():
        if not out.is_dir():
            raise SortieRefusee(f"Le dossier de sortie {g(shown)} est un fichier, pas un dossier{ESP}: il n’est pas "
                                f"remplacé. {conseil}")
        if not (_vide(out) or est_rapport(out)):
            raise SortieRefusee(f"Le dossier de sortie {g(shown)} existe et n’est pas un dossier de rapport (il "
                                f"contient{ESP}: {_apercu(out)}){ESP}: son contenu serait effacé. Il ne porte pas "
                                f"le fichier marqueur {g(MARQUE)} que {g(OUTIL)} écrit dans chacun de ses dossiers. "
                                f"Rien n’a été écrit. {conseil}")
    ancetre = out.parent
    while not ancetre.exists() and ancetre != ancetre.parent:
        ancetre = ancetre.parent
    if not ancetre.is_dir():  # the build would fail later, at mkdir, after checking every input
        raise SortieRefusee(f"Le dossier de sortie {g(shown)} ne peut pas être créé{ESP}: {g(_montrer(ancetre))} "
                            f"est un fichier, pas un dossier. {conseil}")
    echec = echec_de(out)
    if (echec.exists() or echec.is_symlink()) and not (est_rapport(echec) or _vide(echec)):
        raise SortieRefusee(f"Le dossier {g(_montrer(echec))}, où une construction en échec garde ses notebooks "
                            f"partiels, existe et n’a pas été créé par {g(OUTIL)}{ESP}: il serait effacé. "
                            f"Déplacez-le ou choisissez un autre dossier de sortie (--out).")
    return out


def echec_de(out: Path) -> Path:
    return out.with_name(f"{out.name}.echec")


# --- stale folders of dead builds -----------------------------------------------------------------------

def nettoyer_abandons(out: Path, garder: Path | None = None) -> list[Path]:
    """Remove the folders and links, next to `out`, left by builds whose process is gone, and the reports
    superseded by a later publication (except `garder`). Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return removed
    for e in entries:
        m = _INTERNE.fullmatch(e.name)
        if not m or m["nom"] != out.name:
            continue
        if e == _cible_du_lien(out) or e == garder:  # the published report, the one it just replaced
            continue
        if e.is_symlink():  # a new link that never replaced `out`
            if not vivant({"pid": m["pid"]}):
                _retirer(e, removed)
            continue
        if not e.is_dir():
            continue
        info = lire_marque(e)
        if info is None:  # a staging folder of the previous code (no marker), or one created but not yet marked:
            # the name (.OUT.KIND-PID) is the tool's, and the content only what a build writes
            if not (_vide(e) or _rapport_ancien(e)):
                continue  # not ours: left alone
            info = {"pid": m["pid"]}
        # a report once published and since replaced belongs to no running build any more
        if (info.get("publie") or not vivant(info)) and e != _cible_du_lien(out):  # the link read again: another
            _retirer(e, removed)                                                     # build may just have published
    return removed


TEMPORAIRES = ("rapport-noyaux-", "rapport-apercu-", "rapport-territoires-")  # private folders under $TMPDIR


def nettoyer_temporaires() -> list[Path]:
    """Remove the private temporary folders (kernels' sockets and pickles, preview, portraits) of processes that
    are gone (`kill -9`, power cut): only those carrying our marker with a dead owner. Run by every command."""
    import tempfile
    removed: list[Path] = []
    for base in dict.fromkeys((Path(tempfile.gettempdir()), Path("/tmp"))):  # the kernels fall back to /tmp
        for prefix in TEMPORAIRES:
            try:
                found = list(base.glob(f"{prefix}*"))
            except OSError:
                continue
            for d in found:
                info = lire_marque(d) if d.is_dir() and not d.is_symlink() else None
                if info is not None and not vivant(info):
                    _retirer(d, removed)
    return removed


def _retirer(path: Path, removed: list[Path]) -> None:
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)
        removed.append(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass  # best effort: the next build will try again


# --- staging, failure, publication ----------------------------------------------------------------------

def _erreur_os(action: str, path: Path, exc: OSError) -> RapportError:
    return RapportError(f"Impossible {action} {g(_montrer(path))}{ESP}: "
                        f"{exc.strerror or exc} (errno {exc.errno}).")


def preparer(out: Path, **marque) -> Path:
    """Create this build's staging folder next to `out`, marked as ours, and return it."""
    jeton = f"{os.getpid()}-{secrets.token_hex(3)}"
    staging = out.with_name(f".{out.name}.partiel-{jeton}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        ecrire_marque(staging, **marque)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _erreur_os("de créer le dossier de construction", staging, exc) from None
    return staging


def garder_echec(staging: Path, out: Path) -> Path:
    """A failed build: its staging folder, with the partial notebooks, becomes OUT.echec (replacing the previous
    one); nothing is published."""
    echec = echec_de(out)
    if echec.is_symlink():
        echec.unlink()
    elif echec.exists():
        shutil.rmtree(echec)
    staging.rename(echec)
    return echec


def retirer_echec(out: Path) -> None:
    echec = echec_de(out)
    if echec.is_dir() and not echec.is_symlink() and est_rapport(echec):
        shutil.rmtree(echec, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _echanger(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2). False if the system or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def publier(staging: Path, out: Path) -> Path:
    """Publish the finished build: `out` becomes a link to it in one atomic rename. Returns the report folder.

    Run it inside interruption.differe(publication=True): a signal then waits until the report is published."""
    jeton = staging.name.rsplit(".partiel-", 1)[1]
    version = out.with_name(f".{out.name}.publie-{jeton}")
    lien = out.with_name(f".{out.name}.lien-{jeton}")
    precedent = _cible_du_lien(out)
    try:
        staging.rename(version)  # `out` still shows the previous report
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _erreur_os("de publier le rapport dans", out, exc) from None
    try:
        os.symlink(version.name, lien)
        if out.is_symlink() or not out.exists():
            os.replace(lien, out)  # the atomic step
        else:
            precedent = _remplacer_dossier(lien, out)
    except OSError as exc:
        for p in (lien, version):
            if p.is_symlink():
                p.unlink(missing_ok=True)
            elif p.exists():
                shutil.rmtree(p, ignore_errors=True)
        raise _erreur_os("de publier le rapport dans", out, exc) from None
    # The replaced report stays until the next build: a reader that resolved `out` just before the swap
    # still finds its files (removing it at once made about 1 read in 20 000 fail, measured). Older ones go now.
    for folder in (version, precedent):
        if folder is not None and est_rapport(folder):
            _marquer_publie(folder)
    nettoyer_abandons(out, garder=precedent)
    return version


def _marquer_publie(folder: Path) -> None:
    """Record in the marker that the folder was published: from then on no running build owns it, and once
    replaced it may be removed. Best effort (an unmarked folder is removed once its build's process is gone)."""
    info = lire_marque(folder) or proprietaire()
    info.setdefault("publie", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    try:  # never a half-written marker
        atomic_write(folder / MARQUE, (json.dumps(info, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    except OSError:
        pass


def _remplacer_dossier(lien: Path, out: Path) -> Path | None:
    """`out` is a real folder (empty, or a report folder with its marker): put the link in its place. Returns the
    old report, renamed `.OUT.ancien-…` (kept until the next publication, like a replaced report)."""
    ancien = out.with_name(lien.name.replace(".lien-", ".ancien-"))
    if _echanger(lien, out):  # atomic: `out` is now the new link, `lien` the old folder
        lien.rename(ancien)
    else:  # two renames: for an instant there is no `out`; a crash then leaves the old report in `ancien`
        out.rename(ancien)
        try:
            os.replace(lien, out)
        except OSError:
            ancien.rename(out)
            raise
    if _vide(ancien):
        ancien.rmdir()
        return None
    return ancien
