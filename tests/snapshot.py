"""Golden files: every chapter's values, key figures and kept values for a year, computed without
any kernel from the checked data (build.check), so that a change of rule shows as a reviewable diff.

Refresh on purpose (then read the diff): `make golden`, i.e. `python tests/snapshot.py`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"
YEARS = (2022, 2023, 2024)


def snapshot(year: int) -> dict:
    from helpers.build import check
    from helpers.chapters import cooperation, ctg, portrait
    from helpers.params import resolve

    checked = check(resolve(year))
    ctx = checked.contexts
    out: dict = {"annee": year, "chiffres_publies_recalcules": {k: round(v, 6) for k, v in sorted(checked.computed.items())},
                 "reproduits_par_construction": sorted(checked.illustrative)}
    p = ctx["portrait"]
    out["portrait"] = {"valeurs": portrait.valeurs(p), "chiffres_cles": [list(map(str, c)) for c in portrait.chiffres_cles(p)]}
    if ctg.disponible(ctx["ctg"]):
        c = ctx["ctg"]
        out["ctg"] = {"valeurs": ctg.valeurs(c), "chiffres_cles": [list(map(str, x)) for x in ctg.chiffres_cles(c)]}
        if ctg.petite_enfance_disponible(c):
            out["ctg"]["petite_enfance"] = ctg.petite_enfance_valeurs(c)
    if cooperation.disponible(ctx["cooperation"]):
        k = ctx["cooperation"]
        out["cooperation"] = {"valeurs": cooperation.valeurs(k),
                              "chiffres_cles": [list(map(str, x)) for x in cooperation.chiffres_cles(k)]}
    return json.loads(json.dumps(out, ensure_ascii=False, default=str))


def path(year: int) -> Path:
    return GOLDEN / f"{year}.json"


def refresh() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for year in YEARS:
        path(year).write_text(json.dumps(snapshot(year), ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                              encoding="utf-8")
        print(f"écrit : {path(year)}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    refresh()
