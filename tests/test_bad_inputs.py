"""Inputs that used to end in a Python traceback: each now gives an exit code and a French message, before any
kernel starts when the input is refused, or a report when the input is valid."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import plain, write

from helpers import cli
from helpers.data.reference import load_reference
from helpers.data.registers import load_registers
from helpers.indicators import cooperation as ind

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


@pytest.fixture
def no_kernel(monkeypatch):
    import helpers.build as build

    def boom(*a, **k):
        raise AssertionError("un noyau a été démarré")

    monkeypatch.setattr(build, "execute", boom)


def run(terminal, *argv) -> tuple[int, str]:
    """Exit code and stderr of `rapport ARGV`; stdout is kept in run.out."""
    code = cli.main(list(argv))
    captured = terminal.readouterr()
    assert "Traceback" not in captured.err, captured.err
    run.out = captured.out
    return code, captured.err


@pytest.mark.parametrize("dep", ["2B", "972"])  # text and overseas codes without shipped data
def test_departement_missing_from_the_demo_data_stops_before_any_kernel(dep, no_kernel, terminal, tmp_path):
    out = tmp_path / "out"
    # with the demo set (17 only): the file holds another département
    code, err = run(terminal, "build", "--year", "2023", "--departement", dep, "--demo", "--out", str(out))
    assert code == 1
    assert f"aucune ligne pour le département {dep} (département présent dans le fichier : 17)" in err
    assert f"rapport fetch --year ANNÉE --departement {dep}" in err
    assert not out.exists()
    # by default: no open data for that département, the command to fetch them
    code, err = run(terminal, "build", "--year", "2023", "--departement", dep, "--out", str(out))
    assert code == 1 and f"rapport fetch --year 2023 --departement {dep}" in err and "Traceback" not in err
    assert not out.exists()


def test_command_line_stderr_has_no_traceback(tmp_path):
    """The same, through the real entry point: what a user sees on the terminal."""
    proc = subprocess.run([sys.executable, "-m", "helpers.cli", "-q", "build", "--year", "2023", "--departement", "2B",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Erreur dans les données" in plain(proc.stderr), proc.stderr


COM_2A = ("dtreffre;numcomdo;nomcom;indfoy_ndur;indnbp_ndur;indfoy_rsa\n"
          "2022-12;2A004;Ajaccio;16000;36000;2100\n2022-12;2A247;Porto-Vecchio;2500;5600;300\n"
          "2023-12;2A004;Ajaccio;16200;36400;2150\n2023-12;2A247;Porto-Vecchio;2550;5700;310\n2023-12;;;40;80;5\n")
DEP_974 = ("dtreffre;numdep;nomdep;indfoy_ndur;indnbp_ndur;indfoy_rsa\n"
           "2022-12;974;La Réunion;290000;700000;98000\n2023-12;974;La Réunion;292000;701000;97000\n")


@pytest.mark.e2e
@pytest.mark.parametrize("dep, name, text, caf, foyers", [
    ("2A", "s_ben_com_f_2A.csv", COM_2A, "Caf de la Corse-du-Sud", "18\u202f750"),  # the 40 non-localised are national
    ("974", "s_ben_dep_974.csv", DEP_974, "Caf de La Réunion", "292\u202f000"),
])
def test_departement_with_its_own_exports_builds(dep, name, text, caf, foyers, tmp_path, terminal):
    write(tmp_path / "cafdata" / name, text)
    out = tmp_path / "out"
    code, _ = run(terminal, "-q", "build", "--year", "2023", "--departement", dep, "--set",
                  f"cafdata_dir={tmp_path / 'cafdata'}", "--out", str(out), "--formats", "html",
                  "--chapters", "portrait")
    assert code == 0
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert f"la {caf} comptait <strong>{foyers} foyers allocataires</strong>" in html


@pytest.fixture
def empty_meetings(tmp_path) -> Path:
    reg = tmp_path / "registres"
    shutil.copytree(ROOT / "data" / "registers", reg)
    path = reg / "17" / "reunions_reseau.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    return reg


def test_empty_meetings_register_is_valid(empty_meetings, terminal):
    code, _ = run(terminal, "check", "--year", "2023", "--set", f"registers_dir={empty_meetings}")
    assert code == 0 and "Aucun problème" in run.out
    ref = load_reference(ROOT / "data" / "reference", "17")
    k = ind.coop_year(load_registers(empty_meetings / "17", ref.sirens()), ref, 2023)
    assert len(k.meetings) == 0 and k.meetings_with_managers_and_elected == 0


@pytest.mark.e2e
def test_empty_meetings_register_builds_the_chapter(empty_meetings, tmp_path, terminal):
    out = tmp_path / "out"
    code, _ = run(terminal, "-q", "build", "--year", "2023", "--set", f"registers_dir={empty_meetings}",
                  "--chapters", "cooperation", "--formats", "html", "--out", str(out))
    assert code == 0
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert "Aucune rencontre du réseau n’a été organisée" in html and 'id="tab-coop-reunions"' not in html


def test_binary_params_file(tmp_path, no_kernel, terminal):
    bad = tmp_path / "parametres.yaml"
    bad.write_bytes(bytes(range(256)) * 4)
    code, err = run(terminal, "build", "--year", "2023", "--params", str(bad), "--out", str(tmp_path / "out"))
    assert code == 2
    assert f"--params {bad} : ce n’est pas un fichier texte en UTF-8" in err
    ctrl = tmp_path / "controle.yaml"
    ctrl.write_bytes(b"caf_name: \x00\x01\x02\n")
    code, err = run(terminal, "check", "--year", "2023", "--params", str(ctrl))
    assert code == 2 and "ce n’est pas un fichier texte YAML" in err


@pytest.mark.parametrize("value", ["2023-02-30", "2023-06-30", "2023-12-31"])
def test_observation_date_is_refused_everything_is_at_31_december(value, tmp_path, no_kernel, terminal):
    """A mid-year date used to print « au 30 juin 2023 » over figures computed at 31 December: the
    parameter is gone, and refused with what to do."""
    code, err = run(terminal, "build", "--year", "2023", "--set", f"observation_date={value}",
                    "--out", str(tmp_path / "out"))
    assert code == 2
    assert "Paramètre « observation_date » (venant de --set) : ce n’est plus un paramètre" in err
    assert "31 décembre" in err and "Traceback" not in err
    params = write(tmp_path / "p.yaml", f"observation_date: {value}\n")
    code, err = run(terminal, "check", "--year", "2023", "--params", str(params))
    assert code == 2 and f"(venant de --params {params}) : ce n’est plus un paramètre" in err


def _header(name: str) -> str:
    return (DEMO / name).read_text(encoding="utf-8-sig").splitlines()[0] + "\n"


@pytest.mark.parametrize("files, message", [
    # an export of another département (the EPCI file of the right one beside it used to give AssertionError)
    ({"s_ben_dep_33.csv": lambda: (DEMO / "s_ben_dep_17.csv").read_text(encoding="utf-8-sig").replace(
        ";17;Charente-Maritime;", ";33;Gironde;")},
     "s_ben_dep_33.csv, colonne « numdep » : aucune ligne pour le département 17 (département présent dans le "
     "fichier : 33)"),
    ({"s_ben_com_f_33.csv": lambda: "dtreffre;numcomdo;indfoy_ndur;indnbp_ndur\n2023-12;33063;61500;121000\n"
                                    "2023-12;;300;600\n"},
     "s_ben_com_f_33.csv, colonne « numcomdo » : aucune ligne pour le département 17"),
    # header only
    ({"s_ben_dep_17.csv": lambda: _header("s_ben_dep_17.csv")},
     "s_ben_dep_17.csv : le fichier ne contient que l’en-tête, aucune ligne de données"),
    ({"s_ben_com_f_17.csv": lambda: _header("s_ben_com_f_17.csv")},
     "s_ben_com_f_17.csv : le fichier ne contient que l’en-tête, aucune ligne de données"),
], ids=["autre-departement-dep", "autre-departement-com", "en-tete-dep", "en-tete-com"])
@pytest.mark.parametrize("command", ["check", "build"])
def test_export_of_another_departement_or_header_only(files, message, command, tmp_path, no_kernel, terminal):
    folder = tmp_path / "cafdata"
    folder.mkdir()
    shutil.copy(DEMO / "s_ben_epci_f_17.csv", folder)
    for name, text in files.items():
        write(folder / name, text())
    extra = ["--out", str(tmp_path / "out")] if command == "build" else []
    code, err = run(terminal, command, "--year", "2023", "--set", f"cafdata_dir={folder}", *extra)
    assert code == 1
    assert "Erreur dans les données" in err and message in err


def test_unexpected_error_is_one_french_line_and_debug_shows_the_trace(monkeypatch, tmp_path, terminal):
    import helpers.build as build

    def bug(*a, **k):
        raise ZeroDivisionError("division par zéro\nsimulée")

    monkeypatch.setattr(build, "check", bug)
    code, err = run(terminal, "-q", "build", "--year", "2023", "--out", str(tmp_path / "out"))
    assert code == 1
    assert err.strip().splitlines() == [
        "Erreur inattendue (ZeroDivisionError : division par zéro simulée). Rien n’a été publié. "
        "Relancer avec --debug pour afficher la trace complète."]
    for argv in (["-q", "--debug", "build", "--year", "2023"], ["-q", "build", "--debug", "--year", "2023"]):
        assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 1
        err = terminal.readouterr().err
        assert "Traceback (most recent call last)" in err and 'raise ZeroDivisionError("division par zéro' in err
        assert err.strip().splitlines()[-1] == "Erreur inattendue (ZeroDivisionError : division par zéro simulée). " \
                                               "Rien n’a été publié."
