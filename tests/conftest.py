from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "reference-data"
os.environ.setdefault("RAPPORT_ROOT", str(ROOT))


@pytest.fixture
def shared_cafdata() -> Path:
    p = SHARED / "cafdata" / "official-layout"
    if not p.is_dir():
        pytest.skip("données de référence partagées absentes (../shared/reference-data)")
    return p


@pytest.fixture
def shared_geo() -> Path:
    p = SHARED / "geo"
    if not p.is_dir():
        pytest.skip("données de référence partagées absentes (../shared/reference-data)")
    return p


def write(path: Path, text: str, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8")
    return path
