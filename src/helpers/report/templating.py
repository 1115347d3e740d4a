"""The report's HTML lives in Jinja templates (templates/rapport/): one environment, created once,
with autoescape on. A value from parameters or data is text and is escaped; a fragment already
built as HTML by the code (a chapter, an annex, a checksum with its break opportunities) is passed
as `Markup`.

Layout of a template source: a line break, with the indentation around it, is nothing between two
tags (`>` before it and `<` after it) or next to a Jinja statement or comment (`%}` or `#}` before it,
`{%` or `{#` after it), and one space everywhere else (between two words, a word and a tag). Templates
are then indented for reading while the HTML they write stays on one line, as it was when it was
written in Python strings (whitespace between inline elements is visible). Next to an expression
(`{{ fragment }}` after a tag), Jinja's own `{{-` and `-}}` take the space away."""
from __future__ import annotations

import functools
import re

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from helpers import config, fmt

_BREAK = re.compile(r"[ \t]*\n\s*")
_STATEMENT_END = ("%}", "#}")
_STATEMENT_START = ("{%", "{#")


def _join_lines(source: str) -> str:
    def repl(m: re.Match) -> str:
        start, end = m.start(), m.end()
        if (start == 0 or end == len(source) or source.endswith(_STATEMENT_END, 0, start)
                or source.startswith(_STATEMENT_START, end)
                or (source.endswith(">", 0, start) and source.startswith("<", end))):
            return ""
        return " "

    return _BREAK.sub(repl, source)


class _Loader(FileSystemLoader):
    """Templates of the package folder, their line breaks joined (see the module's docstring)."""

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        return _join_lines(source), filename, uptodate


def _breakable(text, kind: str = "somme") -> Markup:
    from helpers.report.annexes import breakable

    return Markup(breakable(str(text), kind))


@functools.cache
def environment() -> Environment:
    env = Environment(loader=_Loader(str(config.TEMPLATES_DIR)), autoescape=True, undefined=StrictUndefined,
                      keep_trailing_newline=False)
    env.filters.update(nombre=fmt.nombre, mois_annee=fmt.mois_annee, date_longue=fmt.date_longue,
                       pluriel=fmt.pluriel, breakable=_breakable)
    env.globals.update(NBSP=fmt.NBSP, NNBSP=fmt.NNBSP)
    return env


def render(name: str, **context) -> str:
    """The HTML of template `rapport/<name>` (a str: callers insert it in another template as Markup)."""
    return environment().get_template(f"rapport/{name}").render(**context)


def macro(template: str, name: str):
    """A macro of a template, to call from Python (it returns Markup)."""
    return getattr(environment().get_template(f"rapport/{template}").module, name)


def table(headers, rows, caption, **options) -> str:
    """The project's one data table (templates/rapport/macros.html.j2, `data_table`): see the macro for
    the options. Cells are text (escaped) unless passed as Markup."""
    return str(macro("macros.html.j2", "data_table")(headers, rows, caption, **options))
