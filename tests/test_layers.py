"""The package's folders show the pipeline, and the data flow one way: the data layer never imports
the indicators, the chapters or the report; the indicators never import the chapters or the report."""
import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "helpers"
FORBIDDEN = {
    "data": ("helpers.indicators", "helpers.chapters", "helpers.report", "helpers.build"),
    "indicators": ("helpers.chapters", "helpers.report", "helpers.build"),
    "report": ("helpers.chapters", "helpers.build"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = ".".join(["helpers", *path.relative_to(PKG).parent.parts][: len(path.relative_to(PKG).parent.parts) + 2 - node.level])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down_the_pipeline(layer):
    bad = []
    for path in sorted((PKG / layer).rglob("*.py")):
        for mod in _imports(path):
            if mod.startswith(FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PKG)} importe {mod}")
    assert not bad, "\n".join(bad)


def test_the_four_layers_exist():
    for layer in ("data", "indicators", "chapters", "report"):
        assert (PKG / layer / "__init__.py").is_file(), layer


# the chapters say what a chapter shows: they never drive a build (kernels, cache, publication, commands)
ORCHESTRATION = tuple(f"helpers.{m}" for m in ("build", "cli", "batch", "territoires", "preview", "lab", "cache",
                                               "sortie", "interruption", "progress"))
# the shared vocabulary and plumbing at the top of the package (which may use one another) import none of the
# stages, nor what drives a build
STAGES = tuple(f"helpers.{m}" for m in ("data", "indicators", "chapters", "report", "build", "cli", "batch",
                                        "territoires", "preview", "lab"))
TOP = {"fmt": STAGES, "config": STAGES, "errors": STAGES, "lineage": STAGES, "narration": STAGES,
       "sortie": STAGES, "interruption": STAGES, "progress": STAGES, "cache": STAGES,
       # the parameters know the chapters' registry (keys and labels; light, no pandas), nothing else of them
       "params": tuple(s for s in STAGES if s != "helpers.chapters") + tuple(
           f"helpers.chapters.{m}" for m in ("context", "portrait", "ctg", "cooperation", "territoire", "essentiel"))}


def test_chapters_never_drive_a_build():
    bad = [f"chapters/{path.name} importe {mod}" for path in sorted((PKG / "chapters").glob("*.py"))
           for mod in _imports(path) if mod.startswith(ORCHESTRATION)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", sorted(TOP))
def test_top_level_plumbing_imports_no_stage_above_it(module):
    bad = [mod for mod in _imports(PKG / f"{module}.py") if mod.startswith(TOP[module])]
    assert not bad, f"{module}.py importe " + ", ".join(sorted(bad))


def test_every_module_and_notebook_is_in_the_readme_map():
    """The README's map of the code (« Organisation ») names every top-level module, every folder of the
    package and every notebook: a newcomer finds each file there."""
    root = PKG.parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Organisation", 1)[1].split("```", 2)[1]
    files = [*PKG.rglob("*.py"), *(root / "notebooks").glob("*.ipynb")]  # the checkout's, git or not
    missing = []
    for f in (str(p.relative_to(root)) for p in files if "__pycache__" not in p.parts):
        parts = Path(f).parts
        if parts[0] == "notebooks" and f.endswith(".ipynb"):
            name = Path(f).stem
        elif len(parts) == 3 and f.endswith(".py") and parts[2] != "__init__.py":
            name = parts[2]
        elif len(parts) > 3:
            name = parts[2] + "/"
        else:
            continue
        if not re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", block):
            missing.append(f)
    assert not missing, "absents du plan du README : " + ", ".join(sorted(set(missing)))
