"""requirements.lock installs on every supported Python, from Debian 12's 3.11.2 to 3.13: no pin whose
Requires-Python excludes the oldest one; the Makefile, pyproject.toml, environment.yml and the README give the
same range; environment.yml lists the same packages and versions as requirements.lock.

Run by `make lock` too (after `python tests/test_lock.py --write-environment` rewrites environment.yml).
"""
from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
ENVIRONMENT = ROOT / "environment.yml"


def _make_variable(name: str) -> str:
    m = re.search(rf"^{name} := (\S+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert m, f"Makefile : variable {name} introuvable"
    return m.group(1)


PY_OLDEST = _make_variable("PY_OLDEST")  # 3.11.2, Debian 12's Python
PY_NEWEST = _make_variable("PY_NEWEST")  # 3.13


def pins(lines: list[str]) -> dict[str, tuple[str, str]]:
    """`name==version` lines -> {normalised name: (name as written, version)}."""
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{line!r} : version exacte attendue (==)"
        out[canonicalize_name(req.name)] = (req.name, spec.version)
    return out


def lock_pins() -> dict[str, tuple[str, str]]:
    return pins(LOCK.read_text(encoding="utf-8").splitlines())


def environment_pins() -> dict[str, tuple[str, str]]:
    """The `pip:` list of environment.yml."""
    lines, inside = [], False
    for line in ENVIRONMENT.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\s*- pip:\s*$", line):
            inside = True
        elif inside and re.match(r"^\s+- ", line):
            lines.append(line.split("- ", 1)[1])
        elif inside and line.strip():
            inside = False
    return pins(lines)


def excluding_pins(python: str, installed=importlib.metadata.metadata) -> list[str]:
    """Pinned distributions whose Requires-Python (read from the installed metadata) excludes `python`."""
    bad = []
    for key, (name, version) in sorted(lock_pins().items()):
        meta = installed(name)
        assert Version(meta["Version"]) == Version(version), (
            f"{name} {meta['Version']} installé, {version} dans requirements.lock : relancer « make »")
        requires = meta.get("Requires-Python")
        if requires and not SpecifierSet(requires).contains(python, prereleases=True):
            bad.append(f"{name}=={version} (Requires-Python {requires})")
    return bad


def test_every_pin_installs_on_the_oldest_and_newest_supported_python():
    for python in (PY_OLDEST, f"{PY_NEWEST}.0"):
        bad = excluding_pins(python)
        assert not bad, (f"requirements.lock : {bad[0]} exclut Python {python} (le plus ancien pris en charge : "
                         f"{PY_OLDEST}, celui de Debian 12)" + (f" ; aussi : {', '.join(bad[1:])}" if bad[1:] else ""))


def test_the_check_sees_a_pin_that_excludes_debian_12():
    """The check above is not vacuous: soupsieve 4.1.3 declares >=3.11.5 and must be named."""
    real = importlib.metadata.metadata

    def fake(name):
        if canonicalize_name(name) == "soupsieve":
            return {"Version": lock_pins()["soupsieve"][1], "Requires-Python": ">=3.11.5"}
        return real(name)

    assert excluding_pins("3.11.2", installed=fake)[0].startswith("soupsieve==")
    assert not excluding_pins("3.11.5", installed=fake)


def test_supported_range_is_the_same_everywhere():
    assert (PY_OLDEST, PY_NEWEST) == ("3.11.2", "3.13")  # Debian 12's Python; bump here and everywhere at once
    newest_next = f"3.{int(PY_NEWEST.split('.')[1]) + 1}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert SpecifierSet(project["requires-python"]) == SpecifierSet(f">={PY_OLDEST},<{newest_next}")
    assert f"- python>={PY_OLDEST},<{newest_next}\n" in ENVIRONMENT.read_text(encoding="utf-8")
    assert f"Python {PY_OLDEST} (celui de Debian 12) à {PY_NEWEST}" in (ROOT / "README.md").read_text(encoding="utf-8")
    here = sys.version_info[:3]
    assert tuple(map(int, PY_OLDEST.split("."))) <= here and here[:2] <= tuple(map(int, PY_NEWEST.split(".")))


def test_environment_yml_lists_the_packages_of_the_lock():
    lock, env = lock_pins(), environment_pins()
    missing = sorted(lock[k][0] for k in lock.keys() - env.keys())
    extra = sorted(env[k][0] for k in env.keys() - lock.keys())
    assert not missing and not extra, f"environment.yml : manquants {missing}, en trop {extra} (relancer « make lock »)"
    differ = [f"{lock[k][0]} {lock[k][1]} / {env[k][1]}" for k in lock if Version(lock[k][1]) != Version(env[k][1])]
    assert not differ, f"versions différentes entre requirements.lock et environment.yml : {differ}"


def write_environment() -> None:
    newest_next = f"3.{int(PY_NEWEST.split('.')[1]) + 1}"
    lines = ["# Conda environment with the same packages and versions as requirements.lock (written by `make lock`;",
             "# tests/test_lock.py compares the two). `make` does not use it: it builds its own .venv.",
             "# conda env create -f environment.yml && conda activate rapport-caf",
             "name: rapport-caf", "channels:", "  - conda-forge", "dependencies:",
             f"  - python>={PY_OLDEST},<{newest_next}", "  - pip", "  - pip:"]
    lines += [f"      - {name}=={version}" for _, (name, version) in sorted(lock_pins().items())]
    lines += ["      - -e .", ""]
    ENVIRONMENT.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--write-environment"]:
    write_environment()
