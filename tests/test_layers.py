"""The package's folders show the pipeline, and the data flow one way: the data layer never imports
the indicators, the chapters or the report; the indicators never import the chapters or the report."""
import ast
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
