"""Paths of the project, in one place."""
from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("RAPPORT_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "params" / "defaults.yaml").is_file():
            return parent
    # Fall back to the current directory (an installed package used from a checkout).
    cwd = Path.cwd().resolve()
    for parent in [cwd, *cwd.parents]:
        if (parent / "params" / "defaults.yaml").is_file():
            return parent
    return cwd


ROOT = _find_root()
PARAMS_DIR = ROOT / "params"
DATA_DIR = ROOT / "data"
NOTEBOOKS_DIR = ROOT / "notebooks"
OUTPUTS_DIR = ROOT / "outputs"
PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "report" / "templates"
STATIC_DIR = PACKAGE_DIR / "report" / "static"
