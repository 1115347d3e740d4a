"""Errors a user reads: French messages that name the file, the row and the column."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class RapportError(Exception):
    """Base class: the message is French and meant for the user."""

    exit_code = 1


class ParamError(RapportError):
    """A parameter is wrong: refused before any kernel starts."""

    exit_code = 2


@dataclass
class Problem:
    file: str
    message: str
    row: int | None = None  # line number in the file (header = line 1)
    column: str | None = None

    def __str__(self) -> str:
        where = [f"fichier {self.file}"]
        if self.row is not None:
            where.append(f"ligne {self.row}")
        if self.column is not None:
            where.append(f"colonne « {self.column} »")
        return f"{', '.join(where)} : {self.message}"


class DataError(RapportError):
    """One or more problems in input files."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(self.render())

    def render(self, limit: int = 30) -> str:
        lines = [str(p) for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"… et {len(self.problems) - limit} autres problèmes")
        return "\n".join(lines)


def display_path(path: Path | str) -> str:
    """A path as the user wrote it or relative to the project, for messages."""
    from helpers.config import ROOT
    p = Path(path)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)
