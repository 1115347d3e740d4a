from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPENDATA = ROOT / "data" / "opendata" / "17"
os.environ.setdefault("RAPPORT_ROOT", str(ROOT))


def plain(text: str) -> str:
    """A message of the command line with its French no-break spaces (fmt.message) made ordinary, so
    that a test can look for the words it expects."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


class Terminal:
    """What a command printed, read through pytest's own capsys: `readouterr()` with ordinary spaces (see
    `plain`), `raw_readouterr()` as printed (the typography tests)."""

    def __init__(self, capsys) -> None:
        self._capsys = capsys

    def readouterr(self):
        r = self._capsys.readouterr()
        return type(r)(plain(r.out), plain(r.err))

    def raw_readouterr(self):
        return self._capsys.readouterr()


@pytest.fixture
def terminal(capsys) -> Terminal:
    return Terminal(capsys)


@pytest.fixture
def real_cafdata() -> Path:
    """The real commune figures shipped with the project (no test depends on ../shared)."""
    return OPENDATA / "cafdata"


@pytest.fixture
def real_geo() -> Path:
    return OPENDATA / "geo"


def write(path: Path, text: str, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8")
    return path


# A build with one chapter and no PDF: one kernel, about 5 s.
FAST = ["--chapters", "cooperation", "--formats", "html"]


def tree(path: Path) -> dict[str, str]:
    """Every entry under `path` (links not followed): relative name -> content hash, link target or 'dossier'.
    The build's cache (`.cache` beside the output: executed notebooks and file fingerprints, never published) is
    left out: a refused or failed build may refresh the fingerprints it computed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) == Path(path) and d == ".cache")]
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(path))
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dossier"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def kernel_processes(tmpdir: Path) -> list[int]:
    """Processes whose command line names `tmpdir` (a kernel is started with -f <tmpdir>/…/k….json)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if str(tmpdir).encode() in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids
