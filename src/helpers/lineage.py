"""What a figure or a table reads, recorded as it is computed: the source line under it is
written from those reads, never typed.

The data layer records a read (`record`) wherever a statistic leaves it: the Cafdata rows of a
December, the legal populations of a year, the outlines, a register, the childcare rates. The
chapter functions that make figures and tables are decorated with `sourced`: what they read,
directly or through the results they reuse (`chapters.context.once` replays the reads of a
remembered result), is attached to every figure and data frame they return, and `Page.figure` /
`Page.tableau` write the source line from it. A read made outside any recording scope (the build's
checks) costs nothing."""
from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass

from helpers import fmt

# The order of the parts of a source line: the statistics first, then the public references.
RANKS = {"cafdata": 0, "extrait": 1, "petite-enfance": 2, "registre": 3, "populations": 4,
         "populations-communes": 5, "contours": 6}


@dataclass(frozen=True)
class Lu:
    """One read: a dataset (`jeu`) of a producer, for a year where the figure reads a year. `kind`
    (a key of RANKS) places it in the source line and says how its period is written."""

    kind: str
    producteur: str  # « Cnaf, Cafdata », « DGCL », « IGN »…
    jeu: str  # « s_ben_com_f », « populations légales des EPCI »…
    annee: int | None = None  # the December read (Cafdata), the year in force (populations)…
    periode: str = ""  # a period already in words, when a year says too little (« au 31 décembre 2023 »)
    illustratif: bool = False  # the dataset holds illustrative rows or is the demo set


_scopes: contextvars.ContextVar[tuple[set, ...]] = contextvars.ContextVar("lineage_scopes", default=())


def record(*reads: Lu) -> None:
    """A statistic is read: every open recording scope keeps it."""
    for scope in _scopes.get():
        scope.update(reads)


@contextmanager
def recording():
    """Record the reads made inside the block (nested scopes all see them)."""
    mine: set[Lu] = set()
    token = _scopes.set(_scopes.get() + (mine,))
    try:
        yield mine
    finally:
        _scopes.reset(token)


def attach(obj, reads: Iterable[Lu]):
    """Remember on a figure or a data frame what it was computed from (kept with what was there)."""
    reads = frozenset(reads) | of(obj)
    if hasattr(obj, "attrs") and isinstance(getattr(obj, "attrs"), dict):  # a pandas data frame
        obj.attrs["lineage"] = reads
    else:
        try:
            obj._lineage = reads
        except AttributeError:  # an object that takes no attribute: nothing to attach to
            pass
    return obj


def of(obj) -> frozenset[Lu]:
    """The reads attached to a figure or a data frame (empty: unknown)."""
    attrs = getattr(obj, "attrs", None)
    if isinstance(attrs, dict) and "lineage" in attrs:
        return frozenset(attrs["lineage"])
    return frozenset(getattr(obj, "_lineage", frozenset()))


class Valeur(str):
    """A value written into a sentence, a key figure, a heading or a table cell (already formatted),
    with what it was computed from: the page marks the paragraph or the key figure that shows it
    as illustrative when one of its reads is (`illustrative`)."""

    def __new__(cls, text, reads: Iterable[Lu] = ()):
        obj = super().__new__(cls, text)
        obj._lineage = frozenset(reads) | of(text)
        return obj

    def __reduce__(self):  # pickled with its reads (the build hands the checked context to the kernel)
        return (Valeur, (str(self), self._lineage))

    def _repr_pretty_(self, p, cycle) -> None:  # shown as the reader reads it (JupyterLab, MyST {eval})
        p.text(str(self))


class Valeurs(dict):
    """A chapter's values, also as attributes (`v.foyers`), for the Markdown cells' MyST expressions
    (« {eval}`v.foyers` »): each text comes back as a Valeur, shown without quotes in JupyterLab."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return Valeur(value) if type(value) is str else value

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"aucune valeur « {name} » (valeurs : {', '.join(sorted(self))})") from None

    def __reduce__(self):
        return (Valeurs, (dict(self),))


def tag(values: dict, reads: Iterable[Lu]) -> dict:
    """Each text value of `values` as a Valeur that carries `reads` (what the values were computed from);
    markup built by the code (a cross-reference) is left as it is."""
    reads = frozenset(reads)
    return {k: (Valeur(v, reads) if isinstance(v, str) and type(v) in (str, Valeur) else v)
            for k, v in values.items()}


def illustrative(*objs) -> bool:
    """Some read behind one of `objs` (values, tables, figures) holds illustrative rows."""
    return any(r.illustratif for o in objs for r in of(o))


def _attach_all(value, reads: frozenset[Lu]):
    if isinstance(value, tuple):
        for v in value:
            _attach_all(v, reads)
    elif value is not None and (hasattr(value, "savefig") or hasattr(value, "iloc")):
        attach(value, reads)
    return value


def sourced(fn):
    """A chapter function that returns figures and tables (alone or in a tuple): what it reads is
    attached to each of them, for their source line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with recording() as reads:
            value = fn(*args, **kwargs)
        return _attach_all(value, frozenset(reads))

    return wrapper


def _years(years: list[int], month: str) -> str:
    if len(years) == 1:
        return f"{month}{years[0]}"
    return f"{month}{years[0]} à {month}{years[-1]}"


def _part(kind: str, producteur: str, periode: str, years: tuple[int, ...], illustratif: bool,
          jeux: list[str]) -> str:
    """One producer's datasets read for the same period, in words."""
    jeux = sorted(jeux, key=str.casefold)
    names = f"contours {fmt.liste([f'des {j}' for j in jeux])}" if kind == "contours" else fmt.liste(jeux)
    mark = " (données illustratives)" if illustratif else ""
    if kind in ("cafdata", "extrait"):
        when = f", {_years(years, 'décembre ')}" if years else ""
        sep = " " if kind == "cafdata" else ", "  # « Cnaf, Cafdata s_ben_dep », « Caf, extrait… »
        return f"{producteur}{sep}{names}{when}{mark}"
    if kind in ("populations", "populations-communes"):
        when = f" en vigueur en {fmt.liste([str(y) for y in years])}" if years else ""
        return f"{producteur}, {names}{when}{mark}"
    when = f" {periode}" if periode else (f" {_years(years, '')}" if years else "")
    return f"{producteur}, {names}{when}{mark}"


def phrase(reads: Iterable[Lu], caf_name: str) -> str:
    """The source line: « Source : Cnaf, Cafdata s_ben_com_f, décembre 2023 ; DGCL, populations
    légales des EPCI en vigueur en 2023 ; traitement Caf de … »."""
    datasets: dict[tuple, set] = {}  # each dataset read, and the years it was read for
    for r in reads:
        datasets.setdefault((r.kind, r.producteur, r.periode, r.illustratif, r.jeu), set()).add(r.annee)
    groups: dict[tuple, list[str]] = {}  # a producer's datasets read for the same years are named together
    for (kind, producteur, periode, illustratif, jeu), years in datasets.items():
        read_for = tuple(sorted(y for y in years if y is not None))
        groups.setdefault((RANKS[kind], kind, producteur, periode, read_for, illustratif), []).append(jeu)
    parts = [_part(*key[1:], jeux) for key, jeux in sorted(groups.items())]
    if not parts:
        return ""
    label = "Sources" if len(parts) > 1 else "Source"
    return f"{label} : {' ; '.join(parts)} ; traitement {caf_name}."
