"""`rapport build` as a process: SIGTERM/SIGHUP stop it cleanly, builds run side by side, nothing is written in
the checkout (kernels' sockets and connection files live in a private temporary folder)."""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import FAST, kernel_processes, tree

from helpers import cli, config

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
RAPPORT = Path(sys.executable).with_name("rapport")
NBSP = "\u00a0"


def start(out: Path, tmpdir: Path, year: int = 2023, root: Path = ROOT, args: list[str] = FAST) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmpdir), "RAPPORT_ROOT": str(root)}
    # --force: the same build was just published, and the cache would otherwise start no kernel at all
    # SIGHUP as a terminal delivers it, whatever the runner's disposition (nohup ignores it, and so would the build)
    return subprocess.Popen([str(RAPPORT), "build", "--year", str(year), *args, "--force", "--out", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))


def leftovers(tmpdir: Path) -> list[str]:
    """Kernel folders, connection files and sockets under `tmpdir`."""
    found = []
    for dirpath, dirnames, filenames in os.walk(tmpdir):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if name.startswith("rapport-noyaux-") or name.endswith(".json") or stat.S_ISSOCK(p.lstat().st_mode):
                found.append(str(p))
    return found




@pytest.fixture
def tmpdir_short():
    """TMPDIR for a build: short, since a Unix socket path is at most 107 bytes (the build would fall back to /tmp)."""
    d = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("publie") / "2023"
    assert cli.main(["-q", "build", "--year", "2023", *FAST, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("signum, chapters", [(signal.SIGTERM, 1), (signal.SIGHUP, 1), (signal.SIGTERM, 2)],
                         ids=["SIGTERM", "SIGHUP", "SIGTERM-deux-chapitres-en-parallele"])
def test_signal_during_a_chapter_stops_kernels_and_removes_everything(published, tmpdir_short, signum, chapters):
    tmp_path = tmpdir_short
    before, notebooks = tree(published.parent), tree(config.NOTEBOOKS_DIR)
    args = FAST if chapters == 1 else ["--chapters", "ctg,cooperation", "--formats", "html", "--jobs", "2"]
    proc = start(published, tmp_path, args=args)
    # wait until the chapters' kernels are up: their sockets exist in the private folder
    deadline = time.monotonic() + 90
    while len({p.name.split("-")[0] for p in tmp_path.glob("rapport-noyaux-*/k*-ipc-*")}) < chapters:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "le noyau n’a pas démarré"
        time.sleep(0.05)
    assert kernel_processes(tmp_path)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    name = signal.Signals(signum).name
    assert f"Interrompu ({name}){NBSP}: noyaux arrêtés" in err and "rien n’a été publié" in err, err
    assert "Traceback" not in err
    report = lambda t: {k: v for k, v in t.items() if not k.startswith(".cache")}  # noqa: E731 (the cache may learn)
    assert report(tree(published.parent)) == report(before)  # published report byte-identical, no staging left
    assert tree(config.NOTEBOOKS_DIR) == notebooks
    assert leftovers(tmp_path) == []
    assert kernel_processes(tmp_path) == []


def test_two_builds_at_once_both_succeed_writing_nothing_in_notebooks(tmp_path, tmpdir_short):
    """Two years, two outputs, one checkout. Nothing (kernel sockets included) may appear in notebooks/ meanwhile:
    the kernels' working folder must also work read-only."""
    tmp = tmpdir_short
    before = sorted(os.listdir(config.NOTEBOOKS_DIR))
    procs = {year: start(tmp_path / str(year), tmp, year) for year in (2022, 2023)}
    seen = set()
    while any(p.poll() is None for p in procs.values()):
        seen.update(os.listdir(config.NOTEBOOKS_DIR))
        time.sleep(0.02)
    for year, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        html = (tmp_path / str(year) / f"rapport-{year}.html").read_text(encoding="utf-8")
        assert f"Données au 31\u00a0décembre\u00a0{year}" in html
    assert sorted(seen) == before and sorted(os.listdir(config.NOTEBOOKS_DIR)) == before
    assert leftovers(tmp) == []


def test_build_from_a_read_only_checkout(tmp_path, tmpdir_short):
    """A copy of the project without any write permission. Root ignores modes, so as root the build runs with an
    empty capability bounding set (setpriv): it cannot write where the modes forbid, as an ordinary user. No mount
    namespace is needed (unshare -m fails inside a chroot whose root is not a mount point)."""
    copy = tmp_path / "projet"
    shutil.copytree(ROOT, copy, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".venv-*", "outputs", ".git", "node_modules", "__pycache__", "*.egg-info", ".pytest_cache"))
    paths = [copy, *copy.rglob("*")]
    for path in paths:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    out = tmp_path / "sortie" / "2023"
    prefix = ["setpriv", "--bounding-set=-all", "--"] if os.geteuid() == 0 else []
    env = {**os.environ, "RAPPORT_ROOT": str(copy), "TMPDIR": str(tmpdir_short)}
    try:
        probe = subprocess.run([*prefix, "touch", str(copy / "essai")], capture_output=True)
        assert probe.returncode != 0 and not (copy / "essai").exists(), "la copie devait être en lecture seule"
        proc = subprocess.run([*prefix, str(RAPPORT), "-q", "build", "--year", "2023", *FAST, "--out", str(out)],
                              capture_output=True, text=True, timeout=300, env=env, cwd=copy)
    finally:
        for path in paths:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert proc.returncode == 0, proc.stderr
    assert sorted(map(str, copy.rglob("*"))) == sorted(map(str, paths[1:])), "la construction a écrit dans la copie"
    assert (out / "rapport-2023.html").is_file()
