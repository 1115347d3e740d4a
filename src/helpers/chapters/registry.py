"""The chapters of the report, each declared once.

A chapter is one module of `helpers.chapters` (what it shows), one notebook (its narrative) and
one entry in CHAPTER_MODULES below. The module declares its `SPEC` (key, notebook, the inputs
its context reads, the labels of the values it keeps for Annexe 2) and four functions of its
context: `disponible` (can it be computed?), `kept_values`, `illustrative_keys` (kept values
reproduced by construction from illustrative data) and `illustratif_chapitre` (does the chapter
as a whole rest on illustrative data: banner and page footer). Parameters, the build, the check,
the annexes and the command line read this registry.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

# The report's chapters, in order: the module names under helpers.chapters, which are also their keys
# (parameters read this tuple without importing the chapters).
CHAPTER_MODULES = ("portrait", "ctg", "cooperation")
# Built on request, not part of the annual report: the portrait of one EPCI (`rapport territoires`).
EXTRA_MODULES = ("territoire",)

# What a context can read (chapters.context.load_for loads exactly these).
INPUTS = ("cafdata", "series", "registers", "childcare", "national")


@dataclass(frozen=True)
class ChapterSpec:
    key: str  # as in --chapters and the `chapters` parameter
    notebook: str  # file name in notebooks/
    reads: tuple[str, ...]  # among INPUTS; the reference tables and the boundaries are always read
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # kept value -> (label, kind) for Annexe 2
    title: str = ""  # short name for the command line's help
    registers: tuple[str, ...] | None = None  # registers (keys of data.registers.FILES) its notebook reads; None: all
    # its notebook reads only the rows of those registers whose `siren_epci` is its `territoire` parameter (a
    # portrait): its cache key holds those rows instead of the files, so that a row of another EPCI changed takes
    # the executed portrait from the cache; reading anything else of a register would make that key false
    registers_by_territory: bool = False


@cache
def modules() -> dict[str, ModuleType]:
    out = {}
    for name in CHAPTER_MODULES + EXTRA_MODULES:
        mod = importlib.import_module(f"helpers.chapters.{name}")
        spec = getattr(mod, "SPEC", None)
        if not isinstance(spec, ChapterSpec):
            raise TypeError(f"helpers.chapters.{name} must declare SPEC = ChapterSpec(...)")
        if spec.key != name:
            raise ValueError(f"helpers.chapters.{name}: SPEC.key must be {name!r}")
        if spec.notebook != notebook(name):
            raise ValueError(f"helpers.chapters.{name}: SPEC.notebook {spec.notebook!r} is not {notebook(name)!r}")
        unknown = set(spec.reads) - set(INPUTS)
        if unknown:
            raise ValueError(f"chapter {spec.key}: unknown inputs {sorted(unknown)}")
        out[spec.key] = mod
    return out


def notebook(key: str) -> str:
    """The chapter's notebook file name, found by its key (`NN_<key>.ipynb`) without importing the chapter's
    module (pandas, geopandas, matplotlib): an unchanged build stays under a second. SPEC.notebook must agree."""
    from helpers import config

    hits = sorted(p.name for p in config.NOTEBOOKS_DIR.glob(f"[0-9][0-9]_{key}.ipynb"))
    if len(hits) != 1:
        raise ValueError(f"chapter {key}: expected one notebook notebooks/NN_{key}.ipynb, found {hits}")
    return hits[0]


def keys() -> list[str]:
    return list(CHAPTER_MODULES)


def spec(key: str) -> ChapterSpec:
    return modules()[key].SPEC


def module(key: str) -> ModuleType:
    return modules()[key]


def labels() -> dict[str, tuple[str, str]]:
    """Every kept value's label and kind, all chapters."""
    out: dict[str, tuple[str, str]] = {}
    for m in modules().values():
        out.update(m.SPEC.labels)
    return out
