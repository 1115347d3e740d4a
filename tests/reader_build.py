"""One full build of 2023 (every chapter, HTML and PDF) shared by the reader checks (pages,
provenance, typography): built once per test session, with the Cafdata folder given outside the
project, as a user would."""
from __future__ import annotations

import shutil
from pathlib import Path

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
_cache: dict[str, Path] = {}


def full_build(tmp_path_factory) -> Path:
    if "out" not in _cache:
        tmp = tmp_path_factory.mktemp("lecteur")
        cafdata = tmp / "exports"  # a data folder outside the project, given on the command line
        shutil.copytree(ROOT / "data" / "opendata" / "17" / "cafdata", cafdata)
        out = tmp / "sortie"
        assert cli.main(["-q", "build", "--year", "2023", "--out", str(out), "--set", f"cafdata_dir={cafdata}"]) == 0
        _cache["out"] = out
    return _cache["out"]
