"""The hostile matrix (issue 13, item 6): « nothing lost, nothing false, nothing left behind ».

One table, `CASES`, of inputs a user or a machine can throw at `rapport`. Each case is run through the real
command line (in process, `cli.main`) next to a report already published in the same output, and each asserts:

- the exit code (2: parameter or output refused; 1: data refused or build failed; 128 + n: signal n);
- the message: French, on stderr, no Python traceback, naming what is wrong (file, line, column for data);
- the published report byte-identical (`tree` of the output's parent: no staging folder left either);
- no kernel started (`build.execute` replaced: it raises) when the input is refused, no kernel folder in the
  temporary folder, nothing written in `notebooks/`.

Kinds of cases in the table (60: export 25, parametre 13, sortie 7, registre 5, signal 5, contours 3,
reference 2), plus 4 process faults below (full disk, a kernel killed twice, two builds racing). Not repeated
here: the cases of test_bad_inputs, test_output_folder, test_build_processes, test_cafdata, test_geo_checks and
test_params (other exports, outputs, SIGTERM/SIGHUP with a real kernel, two builds, a read-only checkout…):

- `parametre` (code 2, `check` and `build`): malformed year, empty or ill-formed `--set`, `--params` missing,
  a list, a directory; a folder parameter that is a file; formats and chapters unknown or empty.
- `sortie` (code 2, `build` only): output in the contours, registers or reference folder, at the data folder,
  at the `--params` file, a dangling symbolic link, below a file.
- `export` (code 1): a Cafdata export that is UTF-16, gzip, old Excel, empty, with a nul byte, tab-separated,
  with an unclosed quote, a blank header name, an exponent, a decimal comma, `inf`, a day in the month, a
  4-digit commune, a year out of range, a row of separators only, a malformed row of another département in a
  national file, a folder or a dangling link in place of the file, an empty exports folder.
- `registre` (code 1): a register file missing, in Latin-1, truncated, an Excel workbook, a column twice.
- `reference` (code 1): the communes reference with an invalid code, missing.
- `contours` (code 1): boundaries present but unreadable are refused, never skipped (absent ones only
  leave the maps out).
- `signal` (128 + n, `build`): SIGTERM while the data are checked, SIGINT while a chapter runs, SIGHUP while
  the chapter's notebook is read back (no kernel: `execute` is replaced by a stand-in).
- `disque` (code 1, `build`): the disk fills up while a chapter's notebook is written (a 1 MB tmpfs; skipped,
  saying why, when mounting is refused).

Item 3 of the issue — « every input `build` refuses, `check` refuses too » — is `test_check_refuses_what_build_
refuses`: for every data case, both commands give the same exit code and the same message.

Process faults with a real kernel (marked e2e, a few seconds each): a kernel killed mid-chapter (exit 1, a
French message naming the chapter, nothing published), and two builds racing to publish the same output.
"""
from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from conftest import FAST, kernel_processes, plain, tree

from helpers import build as build_mod
from helpers import cli, config, sortie

ROOT = Path(__file__).resolve().parents[1]
CAFDATA = ROOT / "data" / "opendata" / "17" / "cafdata"
COM = "s_ben_com_f_17.csv"
NBSP = "\u00a0"


@dataclass
class Case:
    kind: str
    id: str
    prepare: Callable[[Path], list[str]]  # writes its inputs under the folder given, returns extra arguments
    code: int
    message: str  # a fragment of stderr (of stdout for a successful check)
    commands: tuple[str, ...] = ("check", "build")
    chapter: str | None = None  # chapters checked / built ("portrait" for the exports)
    hook: Callable | None = None  # hook(monkeypatch): a fault injected into the run (signals)


# --- inputs ----------------------------------------------------------------------------------------------

def cafdata(tmp: Path, text: str | bytes | None = None, name: str = COM) -> list[str]:
    """A copy of the real exports with the commune file replaced by `text` (None: removed)."""
    folder = tmp / "cafdata"
    shutil.copytree(CAFDATA, folder)
    target = folder / name
    if name != COM:
        (folder / COM).unlink()
    if text is None:
        target.unlink(missing_ok=True)
    elif isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, encoding="utf-8")
    return ["--set", f"cafdata_dir={folder}"]


REAL = (CAFDATA / COM).read_text(encoding="utf-8-sig")
HEAD, *ROWS = REAL.splitlines()


def real_with(line: int, row: str) -> str:
    """The real export with data line `line` (2 = first data line) replaced by `row`."""
    rows = list(ROWS)
    rows[line - 2] = row
    return "\n".join([HEAD, *rows]) + "\n"


def real_plus(*rows: str) -> str:
    return "\n".join([HEAD, *ROWS, *rows]) + "\n"


def cell(line: int, column: str, value: str) -> str:
    names = HEAD.split(";")
    cells = ROWS[line - 2].split(";")
    cells[names.index(column)] = value
    return real_with(line, ";".join(cells))


def folder_instead(tmp: Path) -> list[str]:
    args = cafdata(tmp, None)
    (tmp / "cafdata" / COM).mkdir()
    return args


def dangling(tmp: Path) -> list[str]:
    args = cafdata(tmp, None)
    (tmp / "cafdata" / COM).symlink_to(tmp / "nulle-part.csv")
    return args


def empty_exports(tmp: Path) -> list[str]:
    (tmp / "vide").mkdir()
    return ["--set", f"cafdata_dir={tmp / 'vide'}"]


def registers(tmp: Path, name: str, change: Callable[[Path], None]) -> list[str]:
    folder = tmp / "registres"
    shutil.copytree(ROOT / "data" / "registers", folder)
    change(folder / "17" / name)
    return ["--set", f"registers_dir={folder}"]


def reference(tmp: Path, name: str, change: Callable[[Path], None]) -> list[str]:
    folder = tmp / "reference"
    shutil.copytree(ROOT / "data" / "reference", folder)
    change(folder / name)
    return ["--set", f"reference_dir={folder}"]


def geo(tmp: Path, change: Callable[[Path], None]) -> list[str]:
    folder = tmp / "geo"
    shutil.copytree(ROOT / "data" / "opendata" / "17" / "geo", folder)
    change(folder)
    return ["--set", f"geo_dir={folder}"]


def replace_text(old: str, new: str) -> Callable[[Path], None]:
    def change(p: Path) -> None:
        text = p.read_text(encoding="utf-8")
        assert old in text, (p, old)
        p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return change


def truncate_last_line(p: Path) -> None:
    lines = p.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].rsplit(";", 2)[0]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")


def latin1(p: Path) -> None:
    p.write_bytes(p.read_text(encoding="utf-8").encode("latin-1", errors="replace"))


def duplicate_column(p: Path) -> None:
    lines = p.read_text(encoding="utf-8").splitlines()
    first = lines[0].split(";")[0]
    p.write_text("\n".join(f"{line};{line.split(';')[0]}" if i else f"{line};{first}"
                           for i, line in enumerate(lines)) + "\n", encoding="utf-8")


def params_file(tmp: Path, text: str) -> list[str]:
    p = tmp / "parametres.yaml"
    p.write_text(text, encoding="utf-8")
    return ["--params", str(p)]


def out_at(where: Callable[[Path], Path], *setup: str) -> Callable[[Path], list[str]]:
    """A build whose --out is `where(tmp)`, after `setup` (copies of input folders, given as parameters)."""
    def prepare(tmp: Path) -> list[str]:
        extra = []
        for key in setup:
            src = {"geo_dir": ROOT / "data" / "opendata" / "17" / "geo", "registers_dir": ROOT / "data" / "registers",
                   "reference_dir": ROOT / "data" / "reference"}[key]
            shutil.copytree(src, tmp / key)
            extra += ["--set", f"{key}={tmp / key}"]
        return [*extra, "--out", str(where(tmp))]
    return prepare


def dangling_out(tmp: Path) -> Path:
    (tmp / "lien").symlink_to(tmp / "absent")
    return tmp / "lien"


def below_a_file(tmp: Path) -> Path:
    (tmp / "fichier").write_text("x", encoding="utf-8")
    return tmp / "fichier" / "2023"


def params_at_out(tmp: Path) -> list[str]:
    p = tmp / "p.yaml"
    p.write_text("caf_name: Caf essai\n", encoding="utf-8")
    return ["--params", str(p), "--out", str(p)]


def _p(text: str) -> Callable[[Path], list[str]]:
    return lambda tmp: params_file(tmp, text)


def _a(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp: list(args)


def _c(text: str | bytes | None) -> Callable[[Path], list[str]]:
    return lambda tmp: cafdata(tmp, text)


def family(tmp: Path, old: str, new: str) -> list[str]:
    args = cafdata(tmp, REAL)
    src = next((ROOT / "data" / "extraits" / "17").glob("configuration_familiale*.csv"))
    (tmp / "cafdata" / src.name).write_text(src.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    return args


def broken_geo(name: str, content: bytes) -> Callable[[Path], list[str]]:
    return lambda tmp: geo(tmp, lambda folder: (folder / name).write_bytes(content))


# --- faults injected at a stage of the run: a signal to this very process --------------------------------

def _send(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(5)  # the handler raises Interrompu at once: never reached


def signal_during(stage: str, signum: int) -> Callable:
    def hook(mp: pytest.MonkeyPatch) -> None:
        from helpers.report import assemble

        # a signal a terminal would deliver: not the disposition inherited from the runner (nohup ignores SIGHUP,
        # and the build then rightly keeps ignoring it)
        if signal.getsignal(signum) == signal.SIG_IGN:  # put back by test_hostile_input
            signal.signal(signum, signal.SIG_DFL)
        if stage == "verification":  # data being read and checked (check and build)
            real = build_mod.check
            mp.setattr(build_mod, "check", lambda *a, **k: (_send(signum), real(*a, **k))[1])
        elif stage == "nettoyage":  # build: removing dead builds' folders, just before its own staging folder
            mp.setattr(sortie, "nettoyer_abandons", lambda *a, **k: _send(signum))
        elif stage == "chapitre":  # build: a chapter running (its notebook half written, kernels' folder created)
            def execute(chapter, src, dst, parameters, kernels=None, **_):
                dst.write_text("{}", encoding="utf-8")
                _send(signum)
            mp.setattr(build_mod, "execute", execute)
        elif stage == "relecture":  # build: the executed notebook read back into the report
            mp.setattr(build_mod, "execute", lambda chapter, src, dst, *a, **k: shutil.copy(src, dst))
            mp.setattr(assemble, "chapter_from_notebook", lambda *a, **k: _send(signum))
    return hook


E = "Erreur dans les données"
P = "Erreur de paramètre"
S = "rien n’a été publié"

CASES = [
    # --- parameters: refused with code 2, by check and by build, before anything is read ---------------
    Case("parametre", "annee-texte", _a("--year", "deux-mille"), 2,
         "Paramètre « year » (venant de --year) : un nombre entier est attendu, reçu « deux-mille »"),
    Case("parametre", "annee-vide", _a("--year", ""), 2, "Paramètre « year » (venant de --year) : un nombre entier"),
    Case("parametre", "set-sans-egal", _a("--set", "caf_name"), 2, "--set « caf_name » : la forme attendue est CLÉ=VALEUR"),
    Case("parametre", "set-cle-vide", _a("--set", "=Caf"), 2, "--set « =Caf » : clé vide"),
    Case("parametre", "departement-vide", _a("--set", "departement="), 2, "Paramètre « departement » (venant de --set)"),
    Case("parametre", "params-absent", _a("--params", "/nulle/part/parametres.yaml"), 2,
         "--params /nulle/part/parametres.yaml : fichier introuvable"),
    Case("parametre", "params-liste", _p("- 2023\n- 2024\n"), 2, "le fichier doit contenir des paires clé: valeur"),
    Case("parametre", "params-dossier", lambda tmp: ["--params", str(tmp)], 2, "c’est un dossier, pas un fichier de paramètres YAML"),
    Case("parametre", "params-chapitres-texte", _p("chapters: portrait\n"), 2, "Paramètre « chapters » (venant de --params"),
    Case("parametre", "dossier-qui-est-un-fichier", lambda tmp: ["--set", f"cafdata_dir={CAFDATA / COM}"], 2,
         "Paramètre « cafdata_dir » (venant de --set) : dossier introuvable"),
    Case("parametre", "format-inconnu", _a("--formats", "html,docx"), 2, "valeur non reconnue (valeurs possibles : 'html', 'pdf'), reçu « docx »", commands=("build",)),
    Case("parametre", "formats-vides", _a("--formats", ","), 2, "Paramètre « formats » (venant de ligne de commande) : la liste ne peut pas être vide", commands=("build",)),
    Case("parametre", "chapitres-vides", _a("--chapters", ""), 2, "Paramètre « chapters » (venant de ligne de commande) : la liste ne peut pas être vide", commands=("build",)),
    # --- outputs: refused with code 2 before anything is written ------------------------------------------
    Case("sortie", "dans-les-contours", out_at(lambda t: t / "geo_dir" / "rapport", "geo_dir"), 2,
         "à l’intérieur du dossier des contours (geo_dir)", commands=("build",)),
    Case("sortie", "dossier-des-registres", out_at(lambda t: t / "registers_dir", "registers_dir"), 2,
         "est le dossier des registres (registers_dir)", commands=("build",)),
    Case("sortie", "dans-la-reference", out_at(lambda t: t / "reference_dir" / "publies" / "x", "reference_dir"), 2,
         "à l’intérieur du dossier de référence (reference_dir)", commands=("build",)),
    Case("sortie", "dossier-des-donnees", out_at(lambda t: config.DATA_DIR), 2, f"«{NBSP}data{NBSP}» est le dossier des données (data_dir)",
         commands=("build",)),
    Case("sortie", "fichier-de-parametres", params_at_out, 2, "est le fichier de paramètres (--params)", commands=("build",)),
    Case("sortie", "lien-pendant", out_at(dangling_out), 2, f"est un lien symbolique qui n’a pas été créé par «{NBSP}rapport build{NBSP}»",
         commands=("build",)),
    Case("sortie", "sous-un-fichier", out_at(below_a_file), 2, f"ne peut pas être créé{NBSP}: «{NBSP}", commands=("build",)),
    # --- Cafdata exports: refused with code 1, naming file, line and column ---------------------------------
    Case("export", "utf-16", _c(REAL.encode("utf-16")), 1, "n’est pas en UTF-8", chapter="portrait"),
    Case("export", "gzip", _c(gzip.compress(REAL.encode())), 1, "compressé (gzip)", chapter="portrait"),
    Case("export", "xls-ancien", _c(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64), 1, "classeur Excel ancien",
         chapter="portrait"),
    Case("export", "vide", _c(""), 1, "fichier vide", chapter="portrait"),
    Case("export", "octet-nul", _c(real_with(40, "2023-12;17093;Ch\x00ize;5;10;0;0;0;0;0")), 1,
         "octets nuls", chapter="portrait"),
    Case("export", "tabulations", _c(REAL.replace(";", "\t")), 1, "séparateur « ; » attendu", chapter="portrait"),
    Case("export", "guillemet-ouvert", _c(real_with(7, '2021-12;17003;"Aigrefeuille;700;1945;50;225;165;355;115')),
         1, "ligne 7 : 3 champs au lieu de 10", chapter="portrait"),
    Case("export", "en-tete-sans-nom", _c(REAL.replace("indfoy_rsa", "", 1)), 1, "ligne 1 : la colonne 6 de l’en-tête n’a pas de nom",
         chapter="portrait"),
    Case("export", "exposant", _c(cell(3, "indfoy_ndur", "1e3")), 1,
         "ligne 3, colonne « indfoy_ndur » : un nombre positif ou nul est attendu (valeur « 1e3 »)", chapter="portrait"),
    Case("export", "virgule-decimale", _c(cell(4, "indnbp_ndur", "40,5")), 1,
         "ligne 4, colonne « indnbp_ndur » : un nombre positif ou nul est attendu", chapter="portrait"),
    Case("export", "infini", _c(cell(5, "indfoy_rsa", "inf")), 1, "ligne 5, colonne « indfoy_rsa »",
         chapter="portrait"),
    Case("export", "jour-dans-le-mois", _c(cell(6, "dtreffre", "2024-12-31")), 1,
         "ligne 6, colonne « dtreffre » : date de référence invalide", chapter="portrait"),
    Case("export", "commune-4-chiffres", _c(cell(8, "numcomdo", "1700")), 1,
         "ligne 8, colonne « numcomdo » : code commune invalide", chapter="portrait"),
    Case("export", "annee-2099", _c(cell(9, "dtreffre", "2099-12")), 1,
         "ligne 9, colonne « dtreffre » : année hors de la période", chapter="portrait"),
    Case("export", "separateurs-seuls", _c(real_with(10, ";;;;;;;;;")), 1,
         "ligne 10, colonne « dtreffre » : valeur obligatoire absente", chapter="portrait"),
    Case("export", "autre-departement-mois-faux", _c(real_plus("2023-13;33063;Bordeaux;5;10;0;0;0;0;0")), 1,
         f"ligne {len(ROWS) + 2}, colonne « dtreffre »", chapter="portrait"),
    Case("export", "autre-departement-code-faux", _c(real_plus("2023-12;3306;Bordeaux;5;10;0;0;0;0;0")), 1,
         f"ligne {len(ROWS) + 2}, colonne « numcomdo » : code commune invalide", chapter="portrait"),
    Case("export", "autre-departement-ligne-courte", _c(real_plus("2023-12;33063;Bordeaux;5")), 1,
         f"ligne {len(ROWS) + 2} : 4 champs au lieu de 10", chapter="portrait"),
    Case("export", "dossier-a-la-place", folder_instead, 1, f"{COM} : fichier introuvable", chapter="portrait"),
    Case("export", "lien-pendant", dangling, 1, f"{COM} : fichier introuvable", chapter="portrait"),
    Case("export", "dossier-vide", empty_exports, 1, "aucun export Cafdata", chapter="portrait"),
    Case("export", "double-bom", _c("\ufeff\ufeff" + REAL), 1, "colonne « dtreffre » : colonne obligatoire absente",
         chapter="portrait"),
    Case("export", "fins-de-ligne-crlf", _c(REAL.replace("\n", "\r\n")), 0, "Aucun problème bloquant",
         commands=("check",), chapter="portrait"),
    Case("export", "fins-de-ligne-mac", _c(REAL.replace("\n", "\r")), 0, "Aucun problème bloquant",
         commands=("check",), chapter="portrait"),
    Case("export", "extrait-configuration-inconnue", lambda t: family(t, ";couple;", ";concubins;"), 1,
         "colonne « configuration » : valeur inconnue", chapter="portrait"),
    # --- registers --------------------------------------------------------------------------------------------
    Case("registre", "ctg-absent", lambda t: registers(t, "ctg.csv", Path.unlink), 1, "17/ctg.csv : fichier introuvable",
         chapter="ctg"),
    Case("registre", "postes-latin-1", lambda t: registers(t, "postes_cooperation.csv", latin1), 1,
         "n’est pas en UTF-8", chapter="cooperation"),
    Case("registre", "reunions-tronque", lambda t: registers(t, "reunions_reseau.csv", truncate_last_line), 1,
         "reunions_reseau.csv, ligne 8, colonne « intitule » : valeur obligatoire absente", chapter="cooperation"),
    Case("registre", "ctg-classeur", lambda t: registers(t, "ctg.csv", lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40)),
         1, "classeur Excel", chapter="ctg"),
    Case("registre", "postes-colonne-double", lambda t: registers(t, "postes_cooperation.csv", duplicate_column), 1,
         "colonne présente deux fois", chapter="cooperation"),
    # --- reference ------------------------------------------------------------------------------------------
    Case("reference", "communes-code-faux", lambda t: reference(t, "communes.csv", replace_text("17300", "173OO")), 1,
         "communes.csv, ligne 363, colonne « code_commune » : code commune invalide", chapter="cooperation"),
    Case("reference", "epci-absent", lambda t: reference(t, "epci.csv", Path.unlink), 1, "epci.csv : fichier introuvable",
         chapter="cooperation"),
]


CASES += [
    # --- boundaries: present but unusable contours are refused like any input (never a report without its maps)
    Case("contours", "epci-vide", broken_geo("epci_17.geojson", b""), 1,
         "contours présents mais inutilisables", chapter="portrait"),
    Case("contours", "epci-liste-json", broken_geo("epci_17.geojson", b"[]"), 1,
         "contours présents mais inutilisables", chapter="portrait"),
    Case("contours", "communes-binaire", broken_geo("communes_17_2019_2024.geojson", bytes(range(256))), 1,
         "contours présents mais inutilisables", chapter="portrait"),
    # --- signals at several stages: exit 128 + n, nothing published, no staging or kernel folder left ----------
    Case("signal", "sigterm-pendant-la-verification", _a(), 143, f"Interrompu (SIGTERM){NBSP}: arrêt demandé",
         commands=("check",), chapter="portrait", hook=signal_during("verification", signal.SIGTERM)),
    # the build's message may add what it stopped (kernels, staging folder); it always says nothing was published
    Case("signal", "sigterm-pendant-la-verification-build", _a(), 143, S,
         commands=("build",), chapter="portrait", hook=signal_during("verification", signal.SIGTERM)),
    Case("signal", "sighup-avant-le-dossier-de-construction", _a(), 129, S,
         commands=("build",), chapter="cooperation", hook=signal_during("nettoyage", signal.SIGHUP)),
    Case("signal", "sigint-pendant-un-chapitre", _a(), 130,
         f"Interrompu (SIGINT){NBSP}: noyaux arrêtés, dossier de construction supprimé{NBSP}; {S}",
         commands=("build",), chapter="cooperation", hook=signal_during("chapitre", signal.SIGINT)),
    Case("signal", "sigterm-a-la-relecture-du-notebook", _a(), 143, f"Interrompu (SIGTERM){NBSP}: noyaux arrêtés",
         commands=("build",), chapter="cooperation", hook=signal_during("relecture", signal.SIGTERM)),
]


def _id(c: Case) -> str:
    return f"{c.kind}-{c.id}"


# --- the runner -------------------------------------------------------------------------------------------

def fake_report(out: Path, text: str) -> None:
    """A published report (marker, link, atomic publication) without any kernel."""
    staging = sortie.preparer(out, annee=2023)
    (staging / "rapport-2023.html").write_text(text, encoding="utf-8")
    (staging / "notebooks").mkdir()
    sortie.publier(staging, out)


@pytest.fixture
def arena(tmp_path, monkeypatch):
    """A published report in tmp_path/sortie/2023, a private temporary folder, and no kernel allowed."""
    out = tmp_path / "sortie" / "2023"
    out.parent.mkdir()
    fake_report(out, "<p>rapport publié</p>")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    def no_kernel(*a, **k):
        raise AssertionError("un noyau a été démarré")
    monkeypatch.setattr(build_mod, "execute", no_kernel)
    inputs = tmp_path / "entrees"
    inputs.mkdir()
    return out, tmp, inputs


def run(terminal, argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    cap = terminal.readouterr()
    return code, cap.out, cap.err


def argv_for(case: Case, command: str, extra: list[str], out: Path) -> list[str]:
    argv = ["-q", command]
    if "--year" not in extra:
        argv += ["--year", "2023"]
    argv += extra
    if case.chapter:
        argv += ["--set", f"chapters=[{case.chapter}]"] if command == "check" else ["--chapters", case.chapter]
    if command == "build":
        if "--formats" not in extra:
            argv += ["--formats", "html"]
        if "--out" not in extra:
            argv += ["--out", str(out)]
    return argv


def assert_nothing_left(before: dict, out: Path, tmp: Path, notebooks: dict) -> None:
    assert tree(out.parent) == before, "le rapport publié ou son dossier a changé"
    assert (out / "rapport-2023.html").read_text(encoding="utf-8") == "<p>rapport publié</p>"
    assert os.listdir(tmp) == [], f"restes dans le dossier temporaire : {os.listdir(tmp)}"
    assert tree(config.NOTEBOOKS_DIR) == notebooks


def assert_french(err: str) -> None:
    assert "Traceback" not in err and "Erreur inattendue" not in err, err
    assert err.startswith(("Erreur", "Interrompu")), err
    assert "Errno" not in err and "errno" not in err, err  # no raw system error


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_hostile_input(case, arena, terminal, monkeypatch):
    out, tmp, inputs = arena
    extra = case.prepare(inputs)
    saved = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    try:
        _hostile_case(case, extra, out, tmp, terminal, monkeypatch)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _hostile_case(case, extra, out, tmp, terminal, monkeypatch):
    if case.hook:
        case.hook(monkeypatch)
    before, notebooks = tree(out.parent), tree(config.NOTEBOOKS_DIR)
    results = {}
    for command in case.commands:
        code, stdout, err = run(terminal, argv_for(case, command, extra, out))
        if os.environ.get("HOSTILE_DECOUVRIR"):  # HOSTILE_DECOUVRIR=1 pytest -s: print what each case gives
            print(f"\n### {_id(case)} {command} -> {code}\n{err}{stdout}", file=sys.__stderr__)
            continue
        assert code == case.code, (command, code, err)
        if case.code:
            assert_french(err)
            assert plain(case.message) in err, (command, err)
        else:
            assert plain(case.message) in stdout, (command, stdout)
        assert_nothing_left(before, out, tmp, notebooks)
        results[command] = (code, err.strip())
    if case in DATA_CASES:  # item 3: what build refuses, check refuses too, with the very same message
        assert results["check"] == results["build"], results


DATA_CASES = [c for c in CASES if c.code == 1 and c.kind in ("export", "registre", "reference")]


def test_check_refuses_what_build_refuses():
    """Item 3 of issue 13: every data input `build` refuses, `check` refuses too. Each data case of the matrix
    runs both commands, and `test_hostile_input` asserts the same exit code and the same message."""
    assert len(DATA_CASES) >= 25
    for case in DATA_CASES:
        assert case.commands == ("check", "build") and case.hook is None, _id(case)


# --- a full disk --------------------------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs (root only); skipped, saying why, where mounting is refused."""
    d = tmp_path / "disque"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"montage d’un tmpfs de 1 Mo refusé ({r.stderr.strip() or r.returncode}) : disque plein non simulé")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_full_disk_while_a_chapter_is_written(tiny_disk, tmp_path, monkeypatch, terminal):
    out = tiny_disk / "2023"
    fake_report(out, "<p>rapport publié</p>")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    def execute(chapter, src, dst, parameters, kernels=None, **_):
        with open(dst, "wb") as f:  # a notebook with its figures: more than the disk holds
            for _ in range(40):
                f.write(b"x" * 50_000)
    monkeypatch.setattr(build_mod, "execute", execute)
    before, notebooks = tree(tiny_disk), tree(config.NOTEBOOKS_DIR)
    code, _, err = run(terminal, ["-q", "build", "--year", "2023", "--chapters", "cooperation", "--formats", "html",
                                "--out", str(out)])
    assert code == 1, err
    assert_french(err)
    assert "Erreur : plus de place sur le disque" in err and "Rien n’a été publié" in err, err
    assert_nothing_left(before, out, tmp, notebooks)
    assert tree(tiny_disk) == before


# --- real kernels (e2e): a killed kernel, two builds racing for one output --------------------------------



def _start(out: Path, tmpdir: Path, *extra: str) -> subprocess.Popen:
    rapport = Path(sys.executable).with_name("rapport")
    return subprocess.Popen([str(rapport), "-q", "build", "--year", "2023", *FAST, "--out", str(out), *extra],
                            env={**os.environ, "TMPDIR": str(tmpdir)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


@pytest.fixture
def short_tmp():
    d = Path(tempfile.mkdtemp(prefix="rh-", dir="/tmp"))  # a Unix socket path is at most 107 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.e2e
@pytest.mark.parametrize("running", [False, True], ids=["au-demarrage", "pendant-l-execution"])
def test_killed_kernel_fails_the_chapter_and_publishes_nothing(tmp_path, short_tmp, running):
    """kill -9 of the kernel as soon as it starts (Papermill then says « Kernel died before replying to
    kernel_info ») or once its first cell has run (DeadKernelError): the same French failure of the chapter."""
    out = tmp_path / "sortie" / "2023"
    out.parent.mkdir()
    fake_report(out, "<p>rapport publié</p>")
    before, notebooks, target = tree(out.parent), tree(config.NOTEBOOKS_DIR), os.readlink(out)
    proc = _start(out, short_tmp)
    deadline = time.monotonic() + 120
    while not (list(short_tmp.glob("rapport-noyaux-*/k*-ipc-*")) and kernel_processes(short_tmp)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "le noyau n’a pas démarré"
        time.sleep(0.05)
    while running and not any('"execution_count": 1' in p.read_text(encoding="utf-8", errors="replace")
                              for p in out.parent.glob(".2023.partiel-*/notebooks/*.ipynb")):
        assert proc.poll() is None, proc.communicate()  # Papermill saves the notebook as each cell starts
        assert time.monotonic() < deadline, "aucune cellule exécutée"
        time.sleep(0.01)
    for pid in kernel_processes(short_tmp):
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    err = plain(err)
    assert proc.returncode == 1, err
    assert_french(err)
    assert "Le chapitre « cooperation » a échoué" in err and "s’est arrêté brutalement" in err, err
    assert f"Rien n’a été publié dans {out}" in err and "ERROR:" not in err, err
    # the published report is untouched; the partial notebook is kept in 2023.echec, as for any failed chapter
    after = tree(out.parent)
    assert {k: v for k, v in after.items() if not k.startswith("2023.echec")} == before
    if running:  # killed mid-notebook: the partial notebook kept for the diagnosis shows the cells already run
        partial = (out.parent / "2023.echec" / "notebooks" / "03_cooperation.ipynb").read_text(encoding="utf-8")
        assert '"execution_count": 1' in partial
    assert os.readlink(out) == target and (out / "rapport-2023.html").read_text(encoding="utf-8") == \
        "<p>rapport publié</p>"
    assert os.listdir(short_tmp) == [] and kernel_processes(short_tmp) == []
    assert tree(config.NOTEBOOKS_DIR) == notebooks


@pytest.mark.e2e
def test_two_builds_racing_for_one_output_leave_one_whole_report(tmp_path, short_tmp):
    out = tmp_path / "sortie" / "2023"
    out.parent.mkdir()
    fake_report(out, "<p>rapport publié</p>")
    notebooks = tree(config.NOTEBOOKS_DIR)
    procs = [_start(out, short_tmp) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert f"Données au 31{NBSP}décembre{NBSP}2023" in html
    names = [n for n in os.listdir(out.parent) if n != ".cache"]  # the build's cache is not a leftover
    assert not [n for n in names if ".partiel-" in n or ".lien-" in n], names
    assert os.readlink(out) in names and len(names) <= 3, names  # the link, the report, the one it replaced
    assert os.listdir(short_tmp) == [] and kernel_processes(short_tmp) == []
    assert tree(config.NOTEBOOKS_DIR) == notebooks
