"""One chapter registry: a new chapter is one module, one notebook and one registry entry. A toy
fourth chapter is added to a temporary copy of the project and built."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.chapters import registry

ROOT = Path(__file__).resolve().parents[1]

TOY = '''"""A toy chapter (test only): the number of EPCI of the département."""
from helpers.chapters.context import Context
from helpers.chapters.registry import ChapterSpec

SPEC = ChapterSpec(key="jouet", notebook="04_jouet.ipynb", title="chapitre d’essai", reads=("registers",),
                   labels={"nombre_epci": ("EPCI du département", "nombre")})


def disponible(ctx: Context) -> bool:
    return ctx.reference.known


def kept_values(ctx: Context) -> dict:
    return {"nombre_epci": len(ctx.reference.epci_year(ctx.year)[0])}


def illustrative_keys(ctx: Context) -> set:
    return set()


def illustratif_chapitre(ctx: Context) -> bool:
    return False


def valeurs(ctx: Context) -> dict:
    return {**ctx.base_values(), "n": str(kept_values(ctx)["nombre_epci"])}
'''


def _notebook() -> dict:
    def cell(kind, text, tags=()):
        c = {"cell_type": kind, "id": f"jouet-{abs(hash(text)) % 10**6}", "metadata": {"tags": list(tags)},
             "source": text}
        if kind == "code":
            c.update(outputs=[], execution_count=None)
        return c
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [cell("markdown", "# Un chapitre d’essai"),
                      cell("code", 'year = 2023\ndepartement = "17"\nparams_file = None\noverrides = {}', ["parameters"]),
                      cell("code", "from helpers.chapters import context, jouet\n\n"
                                   'ctx = context.open_chapter("jouet", year, departement, params_file, overrides)\n'
                                   'ctx.page.texte("Le département compte **{n} EPCI**.", jouet.valeurs(ctx))')]}


def test_every_chapter_declares_itself_once():
    assert registry.keys() == ["portrait", "ctg", "cooperation"]
    for key in registry.keys():
        spec = registry.spec(key)
        assert (ROOT / "notebooks" / spec.notebook).is_file()
        for fn in ("disponible", "kept_values", "illustrative_keys", "illustratif_chapitre"):
            assert callable(getattr(registry.module(key), fn)), (key, fn)
    assert "foyers_allocataires" in registry.labels() and "etp_cooperation" in registry.labels()


@pytest.mark.e2e
def test_a_toy_fourth_chapter_is_one_module_one_notebook_one_entry(tmp_path):
    copy = tmp_path / "projet"
    for name in ("src", "notebooks", "params"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    shutil.copytree(ROOT / "data", copy / "data", ignore=shutil.ignore_patterns("cache"))
    (copy / "src" / "helpers" / "chapters" / "jouet.py").write_text(TOY, encoding="utf-8")
    (copy / "notebooks" / "04_jouet.ipynb").write_text(json.dumps(_notebook(), ensure_ascii=False), encoding="utf-8")
    reg = copy / "src" / "helpers" / "chapters" / "registry.py"
    text = reg.read_text(encoding="utf-8")
    assert 'CHAPTER_MODULES = ("portrait", "ctg", "cooperation")' in text
    reg.write_text(text.replace('CHAPTER_MODULES = ("portrait", "ctg", "cooperation")',
                                'CHAPTER_MODULES = ("portrait", "ctg", "cooperation", "jouet")'), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "RAPPORT_ROOT": str(copy)}
    out = tmp_path / "sortie"
    run = subprocess.run([sys.executable, "-m", "helpers.cli", "-q", "build", "--year", "2023", "--chapters",
                          "cooperation,jouet", "--formats", "html", "--out", str(out)], env=env, cwd=copy,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    html = (out / "rapport-2023.html").read_text(encoding="utf-8")
    assert "Un chapitre d’essai" in html and "Le département compte <strong>13 EPCI</strong>" in html
    assert (out / "rapport-2023-jouet.html").is_file()
    helptext = subprocess.run([sys.executable, "-m", "helpers.cli", "build", "--help"], env=env, cwd=copy,
                              capture_output=True, text=True, timeout=60).stdout
    assert "jouet" in helptext
