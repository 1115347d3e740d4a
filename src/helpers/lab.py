"""`make lab`: JupyterLab on the notebooks, with the report's stylesheet applied to the cells' outputs,
so that a chapter run in Lab looks like its page in the report.

JupyterLab loads `<config dir>/custom/custom.css` when started with `LabApp.custom_css=True`. The
project keeps its own config dir (`.jupyter/`, not in git); the report's rules are scoped to the
output area so that they never restyle Lab itself, and the print-only rules are left out.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from helpers import config

SCOPE = ".jp-OutputArea-output"


def _blocks(css: str) -> list[tuple[str, str]]:
    """Top-level (prelude, body) pairs of a stylesheet, nested braces kept in the body."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    out, depth, start, prelude = [], 0, 0, ""
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                prelude, start = css[start:i].strip(), i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append((prelude, css[start:i]))
                start = i + 1
    return out


def _scope_selectors(prelude: str) -> str:
    parts = []
    for sel in prelude.split(","):
        sel = sel.strip()
        sel = re.sub(r"^(html|body|:root)\b", "", sel).strip()  # the page's root becomes the output area
        parts.append(f"{SCOPE} {sel}".strip() if sel else SCOPE)
    return ", ".join(parts)


def scoped_css(css: str) -> str:
    """The report's stylesheet for Lab: every rule under the output area; @media print and @page left out."""
    rules = []
    for prelude, body in _blocks(css):
        if prelude.startswith("@media"):
            if "print" in prelude and "screen" not in prelude:
                continue
            inner = "\n".join(f"  {_scope_selectors(p)} {{{b}}}" for p, b in _blocks(body) if not p.startswith("@"))
            rules.append(f"{prelude} {{\n{inner}\n}}")
        elif prelude.startswith("@"):
            continue
        elif prelude.startswith(":root"):
            rules.append(f"{SCOPE} {{{body}}}")  # custom properties (colours) on the output area
        else:
            rules.append(f"{_scope_selectors(prelude)} {{{body}}}")
    return ("/* Généré par `make lab` depuis src/helpers/report/static/rapport.css : les sorties des cellules "
            "ont l’aspect du rapport. */\n" + "\n".join(rules) + "\n")


def config_dir() -> Path:
    return config.ROOT / ".jupyter"


def write_custom_css() -> Path:
    target = config_dir() / "custom" / "custom.css"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(scoped_css((config.STATIC_DIR / "rapport.css").read_text(encoding="utf-8")), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    write_custom_css()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir())}
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    cmd = [sys.executable, "-m", "jupyter", "lab", "--LabApp.custom_css=True", *root, *(argv or []),
           str(config.NOTEBOOKS_DIR)]
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
