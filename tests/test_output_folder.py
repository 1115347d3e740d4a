"""The output folder is the report's own: anything else is refused before anything runs, and left byte-identical;
a report folder is replaced in one atomic step; folders of dead builds are cleaned by the next build."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import FAST, tree

from helpers import build as build_mod
from helpers import cli, config, interruption, sortie

ROOT = Path(__file__).resolve().parents[1]
NBSP = " "  # the captured messages have ordinary spaces (conftest.terminal)


@pytest.fixture
def no_kernel(monkeypatch):
    """A refused output must be refused before any data is read or any kernel starts."""
    def boom(*a, **k):
        raise AssertionError("la construction a commencé")
    monkeypatch.setattr(build_mod, "execute", boom)
    monkeypatch.setattr(build_mod, "check", boom)


def refused(terminal, args: list[str]) -> str:
    code = cli.main(["-q", "build", "--year", "2023", *FAST, *args])
    err = terminal.readouterr().err
    assert code == 2, err
    assert err.startswith("Erreur de paramètre") and "Traceback" not in err
    return err


def test_out_at_a_non_empty_working_folder_is_refused_and_left_identical(tmp_path, terminal, no_kernel):
    work = tmp_path / "travail"
    (work / "sous-dossier").mkdir(parents=True)
    (work / "notes.txt").write_text("à garder\n", encoding="utf-8")
    (work / "sous-dossier" / "tableau.csv").write_bytes(b"a;b\n1;2\n")
    before, siblings = tree(tmp_path), sorted(os.listdir(tmp_path))
    err = refused(terminal, ["--out", str(work)])
    assert f"n’est pas un dossier de rapport (il contient{NBSP}: notes.txt, sous-dossier/)" in err
    assert f"«{NBSP}{work}{NBSP}»" in err
    assert tree(tmp_path) == before and sorted(os.listdir(tmp_path)) == siblings


def test_out_at_dot_is_refused(tmp_path, terminal, no_kernel, monkeypatch):
    work = tmp_path / "travail"
    work.mkdir()
    (work / "exports.csv").write_text("x\n", encoding="utf-8")
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    err = refused(terminal, ["--out", "."])
    assert "n’est pas un dossier de rapport" in err
    assert tree(tmp_path) == before


def test_out_at_the_project_root_is_refused(terminal, no_kernel, monkeypatch):
    monkeypatch.chdir(ROOT)
    siblings = sorted(os.listdir(ROOT.parent))
    err = refused(terminal, ["--out", "."])
    assert f"est le dossier du projet{NBSP}:" in err
    assert sorted(os.listdir(ROOT.parent)) == siblings


def test_out_at_a_file_is_refused_and_the_file_kept(tmp_path, terminal, no_kernel):
    f = tmp_path / "rapport.html"
    f.write_text("<p>mon fichier</p>", encoding="utf-8")
    before = tree(tmp_path)
    err = refused(terminal, ["--out", str(f)])
    assert "est un fichier, pas un dossier" in err
    assert tree(tmp_path) == before


@pytest.mark.parametrize("where, expected", [
    ("exports", "est le dossier des exports Cafdata (cafdata_dir)"),
    ("exports/rapport", "est à l’intérieur du dossier des exports Cafdata (cafdata_dir)"),
    (".", "contient le dossier des exports Cafdata (cafdata_dir)"),
])
def test_out_at_in_or_around_the_cafdata_input_is_refused(tmp_path, terminal, no_kernel, where, expected):
    import shutil

    exports = tmp_path / "exports"
    shutil.copytree(config.DATA_DIR / "demo", exports)
    before = tree(tmp_path)
    err = refused(terminal, ["--set", f"cafdata_dir={exports}", "--out", str((tmp_path / where).resolve())])
    assert expected in err, err
    assert tree(tmp_path) == before


def test_out_inside_the_notebooks_or_data_folder_is_refused(terminal, no_kernel):
    before = tree(config.NOTEBOOKS_DIR)
    err = refused(terminal, ["--out", str(config.NOTEBOOKS_DIR / "sortie")])
    assert "à l’intérieur du dossier des notebooks" in err
    assert tree(config.NOTEBOOKS_DIR) == before
    err = refused(terminal, ["--out", str(config.DATA_DIR / "registers" / "sortie")])
    assert "à l’intérieur du dossier des registres (registers_dir)" in err


def test_out_at_a_foreign_symlink_is_refused(tmp_path, terminal, no_kernel):
    target = tmp_path / "ailleurs"
    target.mkdir()
    (tmp_path / "lien").symlink_to(target)
    before = tree(tmp_path)
    err = refused(terminal, ["--out", str(tmp_path / "lien")])
    assert "lien symbolique qui n’a pas été créé" in err
    assert tree(tmp_path) == before


def test_a_foreign_echec_folder_is_refused_before_it_could_be_replaced(tmp_path, terminal, no_kernel):
    (tmp_path / "2023.echec").mkdir()
    (tmp_path / "2023.echec" / "brouillon.docx").write_bytes(b"PK")
    before = tree(tmp_path)
    err = refused(terminal, ["--out", str(tmp_path / "2023")])
    assert "2023.echec" in err
    assert tree(tmp_path) == before


def test_report_of_the_previous_layout_with_extra_files_is_refused(tmp_path, terminal, no_kernel):
    old = tmp_path / "2023"
    (old / "notebooks").mkdir(parents=True)
    (old / "rapport-2023.html").write_text("<p>ancien</p>", encoding="utf-8")
    (old / "mes-notes.txt").write_text("à garder", encoding="utf-8")
    before = tree(tmp_path)
    refused(terminal, ["--out", str(old)])
    assert tree(tmp_path) == before


@pytest.mark.parametrize("with_notebooks", [False, True], ids=["pdf-seuls", "pdf-html-notebooks"])
def test_an_archive_of_reports_the_tool_never_wrote_is_refused_and_kept(tmp_path, terminal, no_kernel, with_notebooks):
    """Issue 24, item 4: content that looks like reports proves nothing; without the marker the folder is not ours
    (before: taken for the previous layout, moved aside by the first build and deleted by the next)."""
    archive = tmp_path / "archives"
    archive.mkdir()
    for year in range(2019, 2023):
        (archive / f"rapport-{year}.pdf").write_bytes(b"%PDF-1.7 signe " + str(year).encode())
    if with_notebooks:
        (archive / "rapport-2022.html").write_text("<p>2022</p>", encoding="utf-8")
        (archive / "notebooks").mkdir()
        (archive / "notebooks" / "01_portrait.ipynb").write_text("{}", encoding="utf-8")
    before = tree(tmp_path)
    for _ in range(2):  # the second build used to delete what the first had moved aside
        err = refused(terminal, ["--out", str(archive)])
        assert "n’est pas un dossier de rapport" in err and sortie.MARQUE in err
        assert tree(tmp_path) == before
    assert not sortie.est_rapport(archive)


def test_a_real_folder_with_the_marker_is_a_report_folder(tmp_path):
    out = tmp_path / "2023"
    out.mkdir()
    (out / "rapport-2023.pdf").write_bytes(b"%PDF-1.7")
    assert not sortie.est_rapport(out)
    sortie.ecrire_marque(out)
    assert sortie.est_rapport(out) and sortie.verifier(out, []) == out


# --- builds (one kernel each, about 5 s) ----------------------------------------------------------------

def build(out: Path, *extra: str, year: int = 2023) -> None:
    # --force: these tests rebuild the same report to see it replaced; the cache would leave it as it is
    assert cli.main(["-q", "build", "--year", str(year), *FAST, "--force", "--out", str(out), *extra]) == 0


def listing(folder: Path) -> list[str]:
    """The entries beside the report, but the build cache (.cache)."""
    return sorted(p.name for p in folder.iterdir() if p.name != ".cache")


@pytest.mark.e2e
def test_empty_folder_is_used_then_rebuilt_in_one_swap(tmp_path):
    out = tmp_path / "2023"
    out.mkdir()
    build(out)
    assert out.is_symlink() and (out / "rapport-2023.html").is_file()
    first = out.resolve()
    assert first.parent == tmp_path and first.name.startswith(".2023.publie-")
    assert sortie.lire_marque(first)["annee"] == 2023
    build(out)
    second = out.resolve()
    assert second != first and (out / "rapport-2023.html").is_file()
    # the replaced report is kept until the next build, for readers that followed the link just before the swap
    assert listing(tmp_path) == sorted(["2023", second.name, first.name])


@pytest.mark.e2e
def test_report_of_the_previous_layout_is_replaced(tmp_path):
    out = tmp_path / "2023"  # a real folder written by the tool (its marker), not a link
    (out / "notebooks").mkdir(parents=True)
    sortie.ecrire_marque(out)
    (out / "notebooks" / "03_cooperation.ipynb").write_text("{}", encoding="utf-8")
    (out / "rapport-2023.html").write_text("<p>ancien</p>", encoding="utf-8")
    (out / "rapport-2023.pdf").write_bytes(b"%PDF-1.7")
    build(out)
    assert out.is_symlink()
    assert "ancien" not in (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert not (out / "rapport-2023.pdf").exists()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(".2023.ancien-")]  # until the next build
    assert listing(tmp_path) == sorted(["2023", out.resolve().name] + [p.name for p in kept])
    assert len(kept) == 1 and (kept[0] / "rapport-2023.html").read_text(encoding="utf-8") == "<p>ancien</p>"


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.mark.e2e
def test_stale_staging_of_a_dead_build_is_cleaned_and_others_left(tmp_path):
    out = tmp_path / "2023"
    dead = _dead_pid()
    stale = tmp_path / f".2023.partiel-{dead}-abcdef"
    (stale / "notebooks").mkdir(parents=True)
    (stale / sortie.MARQUE).write_text(json.dumps({"outil": "rapport build", "pid": dead}), encoding="utf-8")
    stale_old_layout = tmp_path / f".2023.partiel-{dead}"  # the previous code's name, no marker
    (stale_old_layout / "notebooks").mkdir(parents=True)
    live = tmp_path / f".2023.partiel-{os.getpid()}-123456"  # a build still running (this process)
    live.mkdir()
    sortie.ecrire_marque(live)
    foreign = tmp_path / f".2023.partiel-{dead}-fedcba"  # same name pattern, not ours: left alone
    foreign.mkdir()
    (foreign / "notes.txt").write_text("x", encoding="utf-8")
    stale_kernels = Path(build_mod.tempfile.gettempdir()) / f"rapport-noyaux-{dead}-essai"
    stale_kernels.mkdir(exist_ok=True)
    (stale_kernels / sortie.MARQUE).write_text(json.dumps({"outil": "rapport build", "pid": dead}), encoding="utf-8")
    build(out)
    assert not stale.exists() and not stale_old_layout.exists() and not stale_kernels.exists()
    assert live.is_dir() and foreign.is_dir()


def test_liveness_tells_a_reused_pid_from_the_build(monkeypatch):
    me = sortie.proprietaire()
    assert sortie.vivant(me)
    if me["debut"] is not None:
        assert not sortie.vivant({**me, "debut": me["debut"] - 1})  # same pid, another process start
    assert not sortie.vivant({"pid": _dead_pid()})
    assert sortie.vivant({"pid": _dead_pid(), "hote": "autre-machine", "cree": me["cree"]})  # cannot tell: kept


# --- publication ----------------------------------------------------------------------------------------

def fake_staging(out: Path, text: str) -> Path:
    staging = sortie.preparer(out)
    (staging / "rapport-2023.html").write_text(text, encoding="utf-8")
    return staging


def test_publication_failure_keeps_the_published_report_and_leaves_no_staging(tmp_path, monkeypatch):
    out = tmp_path / "2023"
    sortie.publier(fake_staging(out, "v1"), out)
    before = tree(tmp_path)

    def failing_replace(a, b):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(sortie.os, "replace", failing_replace)
    with pytest.raises(sortie.RapportError) as e:
        sortie.publier(fake_staging(out, "v2"), out)
    assert "Impossible de publier le rapport" in str(e.value) and "No space left" in str(e.value)
    assert tree(tmp_path) == before
    assert (out / "rapport-2023.html").read_text(encoding="utf-8") == "v1"


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "deux-renommages"])
def test_previous_layout_replaced_with_or_without_atomic_exchange(tmp_path, monkeypatch, exchange):
    out = tmp_path / "2023"
    out.mkdir()
    (out / "rapport-2023.html").write_text("ancien", encoding="utf-8")
    sortie.ecrire_marque(out)
    if not exchange:
        monkeypatch.setattr(sortie, "_echanger", lambda a, b: False)
    sortie.publier(fake_staging(out, "nouveau"), out)
    assert out.is_symlink() and (out / "rapport-2023.html").read_text(encoding="utf-8") == "nouveau"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3 and "2023" in names and os.readlink(out) in names
    sortie.publier(fake_staging(out, "suivant"), out)  # the old folder goes at the next publication
    assert not any(".ancien-" in p.name for p in tmp_path.iterdir())


def test_replaced_report_stays_readable_until_the_next_build(tmp_path):
    out = tmp_path / "2023"
    sortie.publier(fake_staging(out, "v1"), out)
    v1 = out.resolve()  # a reader (a web server, a copy) that followed the link just before the swap
    sortie.publier(fake_staging(out, "v2"), out)
    assert (v1 / "rapport-2023.html").read_text(encoding="utf-8") == "v1"
    v2 = out.resolve()
    sortie.publier(fake_staging(out, "v3"), out)
    assert not v1.exists() and (v2 / "rapport-2023.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["2023", v2.name, os.readlink(out)])
    assert sortie.nettoyer_abandons(out) == [v2]  # what the next build removes first


def test_a_signal_during_publication_waits_until_the_report_is_published(tmp_path, monkeypatch):
    out = tmp_path / "2023"
    sortie.publier(fake_staging(out, "v1"), out)
    staging = fake_staging(out, "v2")
    real_symlink = os.symlink

    def symlink_then_sigterm(*a, **k):  # the signal arrives between the two steps of publication
        real_symlink(*a, **k)
        os.kill(os.getpid(), signal.SIGTERM)
    monkeypatch.setattr(sortie.os, "symlink", symlink_then_sigterm)
    with interruption.geres():
        with pytest.raises(interruption.Interrompu) as e:
            with interruption.differe(publication=True):
                sortie.publier(staging, out)
    assert e.value.signum == signal.SIGTERM and e.value.publie and e.value.exit_code == 143
    assert (out / "rapport-2023.html").read_text(encoding="utf-8") == "v2"
    assert not any(".lien-" in p.name or ".partiel-" in p.name for p in tmp_path.iterdir())
