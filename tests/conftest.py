from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPENDATA = ROOT / "data" / "opendata" / "17"
os.environ.setdefault("RAPPORT_ROOT", str(ROOT))


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
