"""Marks follow what a value read (issue 20): in a register where a single CTG row is illustrative, exactly
the elements computed from that row carry the mark; with every row public, none does."""
import csv
import shutil
from pathlib import Path

import pytest

from helpers import lineage
from helpers.chapters import ctg, territoire
from helpers.chapters.context import load_for
from helpers.params import resolve
from helpers.report.page import render_text

ROOT = Path(__file__).resolve().parents[1]
ILLUSTRATIVE = "200041762"  # the EPCI whose one CTG row is left illustrative
OTHER = "200041499"  # CC Aunis Atlantique: a public row


def _registers(tmp_path: Path, illustrative: set[str]) -> Path:
    folder = tmp_path / "registers" / "17"
    shutil.copytree(ROOT / "data" / "registers" / "17", folder)
    path = folder / "ctg.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    for r in rows:
        r["source"] = ("illustratif (ligne de test)" if r["siren_epci"] in illustrative
                       else "public : ligne de test, signature et dates vérifiées")
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
        w.writeheader()
        w.writerows(rows)
    return folder.parent


def _ctx(chapter: str, registers: Path, siren: str | None = None):
    over = {"registers_dir": str(registers)} | ({"territoire": siren} if siren else {})
    r = resolve(2023, "17", overrides=over)
    return load_for(chapter, r.params, r)


@pytest.fixture(scope="module")
def one_row(tmp_path_factory) -> Path:
    return _registers(tmp_path_factory.mktemp("un"), {ILLUSTRATIVE})


@pytest.fixture(scope="module")
def all_public(tmp_path_factory) -> Path:
    return _registers(tmp_path_factory.mktemp("aucun"), set())


def _marked(template: str, values: dict) -> bool:
    return "marque-illustratif" in render_text(template, values, marks=True)


def test_only_the_portrait_that_reads_the_illustrative_row_is_marked(one_row):
    for siren, expected in ((ILLUSTRATIVE, True), (OTHER, False)):
        ctx = _ctx("territoire", one_row, siren)
        template, values = territoire.conventions_texte(ctx)
        assert _marked(template, values) is expected, siren
        table = territoire.conventions(ctx)
        assert table is not None and bool(table[-1]) is expected, siren


def test_departement_figures_that_count_every_row_are_marked(one_row):
    ctx = _ctx("ctg", one_row)
    figures = ctg.chiffres_cles(ctx)
    # covered EPCI, inhabitants, signatures and ends of the year: each counts over every row of the register
    # (whether the illustrative row falls in 2023 is itself read from it), so each is marked
    assert all(lineage.illustrative(*f[:3]) for f in figures)


def test_nothing_is_marked_when_every_row_is_public(all_public):
    ctx = _ctx("ctg", all_public)
    assert not any(lineage.illustrative(*f[:3]) for f in ctg.chiffres_cles(ctx))
    for siren in (ILLUSTRATIVE, OTHER):
        t = _ctx("territoire", all_public, siren)
        template, values = territoire.conventions_texte(t)
        assert not _marked(template, values)
        assert not territoire.conventions(t)[-1]
