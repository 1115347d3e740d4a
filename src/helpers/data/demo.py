"""Seeded generator of the embedded demonstration data (data/demo/).

The files follow the official Cafdata export layout (see cafdata.py) for département 17, so
that a report builds offline. The figures are ILLUSTRATIVE, except the December 2023
département totals, which equal those published by the Caf de la Charente-Maritime
(121 067 foyers allocataires, 271 931 personnes couvertes, 49 % sans enfant).

Method: a département monthly series is drawn around December anchors; commune values spread
each December total over the communes in proportion to their legal population times a seeded
random factor, then rounded to 5 like Cafdata; a small number of allocataires is left
non-localised (empty `numcomdo`); EPCI values are the sums of their communes, rounded to 5.

Regenerate with `python -m helpers.data.demo` (same seed, same files).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import config

SEED = 17
DEP = "17"
DEP_NAME = "Charente-Maritime"

# December anchors of the département series (2023 = published figures; others illustrative).
FOYERS = {2016: 118_900, 2017: 119_800, 2018: 120_600, 2019: 121_400, 2020: 124_300, 2021: 122_100,
          2022: 122_600, 2023: 121_067, 2024: 121_700}
PERSONNES = {2016: 276_100, 2017: 276_900, 2018: 277_200, 2019: 277_600, 2020: 281_200, 2021: 276_300,
             2022: 275_100, 2023: 271_931, 2024: 270_800}
# Shares of foyers by benefit (illustrative).
SHARES = {"indfoy_ndural": 0.455, "indfoy_rsa": 0.118, "indfoy_ppa": 0.262, "indfoy_af": 0.283,
          "indfoy_ndurpaje": 0.098, "indfoy_aah": 0.101}
# Family configuration in December (shares of foyers; 2023 gives 49 % without children).
CONFIG_SHARES = {
    ("isolé", "0"): 0.400, ("couple", "0"): 0.090,
    ("couple", "1"): 0.105, ("couple", "2"): 0.110, ("couple", "3+"): 0.060,
    ("monoparent", "1"): 0.110, ("monoparent", "2"): 0.080, ("monoparent", "3+"): 0.045,
}
NON_LOCALISED = 0.003


def round5(x):
    return (np.round(np.asarray(x, dtype=float) / 5) * 5).astype(int)


def _months() -> list[pd.Period]:
    return list(pd.period_range("2016-06", "2024-12", freq="M"))


def departement_series(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for p in _months():
        y = p.year
        if p.month == 12:
            f, n = FOYERS[y], PERSONNES[y]
        else:  # between Decembers: linear path plus a little seasonal noise
            a = p.month / 12
            f = FOYERS.get(y - 1, FOYERS[y]) * (1 - a) + FOYERS[y] * a
            n = PERSONNES.get(y - 1, PERSONNES[y]) * (1 - a) + PERSONNES[y] * a
            f, n = f * (1 + rng.normal(0, 0.002)), n * (1 + rng.normal(0, 0.002))
        row = {"dtreffre": str(p), "numdep": DEP, "nomdep": DEP_NAME,
               "indfoy_ndur": int(round(f)), "indnbp_ndur": int(round(n))}
        drift = 1 + 0.004 * (y - 2020)
        for m, s in SHARES.items():
            share = s * (drift if m in ("indfoy_ppa", "indfoy_aah") else 1 / drift)
            row[m] = int(round(f * share * (1 + rng.normal(0, 0.003))))
        rows.append(row)
    return pd.DataFrame(rows)


def communes_series(rng: np.random.Generator, dep: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    geo = communes[communes.annee_vigueur == communes.annee_vigueur.max()]
    weights = geo.population_municipale.to_numpy(float) * rng.lognormal(0, 0.25, len(geo))
    weights /= weights.sum()
    rows = []
    for y in range(2020, 2025):
        d = dep[dep.dtreffre == f"{y}-12"].iloc[0]
        jitter = rng.lognormal(0, 0.03, len(geo))
        w = weights * jitter / (weights * jitter).sum()
        frame = pd.DataFrame({"dtreffre": f"{y}-12", "numcomdo": geo.code_commune.to_numpy(),
                              "nomcom": geo.nom.to_numpy()})
        for m in ["indfoy_ndur", "indnbp_ndur", *SHARES]:
            frame[m] = round5(d[m] * (1 - NON_LOCALISED) * w * rng.lognormal(0, 0.04, len(geo)))
        frame["indfoy_ndur"] = np.maximum(frame.indfoy_ndur, frame[list(SHARES)].max(axis=1))
        frame["indnbp_ndur"] = np.maximum(frame.indnbp_ndur, frame.indfoy_ndur)
        rows.append(frame)
        nl = {"dtreffre": f"{y}-12", "numcomdo": "", "nomcom": ""}
        for m in ["indfoy_ndur", "indnbp_ndur", *SHARES]:
            nl[m] = int(round5(d[m] * NON_LOCALISED))
        rows.append(pd.DataFrame([nl]))
    return pd.concat(rows, ignore_index=True)


def epci_series(com: pd.DataFrame, communes: pd.DataFrame, epci: pd.DataFrame) -> pd.DataFrame:
    geo = communes[communes.annee_vigueur == communes.annee_vigueur.max()][["code_commune", "siren_epci"]]
    m = com[com.numcomdo != ""].merge(geo, left_on="numcomdo", right_on="code_commune")
    measures = ["indfoy_ndur", "indnbp_ndur", *SHARES]
    out = m.groupby(["dtreffre", "siren_epci"], as_index=False)[measures].sum()
    names = epci.sort_values("annee_vigueur").groupby("siren").nom.last()
    out.insert(2, "nomepci", out.siren_epci.map(names))
    out = out.rename(columns={"siren_epci": "numepci"})
    for c in measures:
        out[c] = round5(out[c])
    return out


def family_config(dep: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for y in range(2020, 2025):
        total = int(dep.loc[dep.dtreffre == f"{y}-12", "indfoy_ndur"].iloc[0])
        shift = 0.004 * (y - 2023)  # childless households slowly growing
        shares = {k: v + (shift * 0.5 if k[1] == "0" else -shift / 6) for k, v in CONFIG_SHARES.items()}
        counts = {k: int(round(total * v)) for k, v in shares.items()}
        counts[("isolé", "0")] += total - sum(counts.values())  # exact total
        for (conf, kids), n in counts.items():
            rows.append({"dtreffre": f"{y}-12", "numdep": DEP, "configuration": conf, "nb_enfants": kids,
                         "foyers": n})
    return pd.DataFrame(rows)


def write_csv(df: pd.DataFrame, path: Path, bom: bool = True) -> None:
    path.write_text(df.to_csv(sep=";", index=False, lineterminator="\n"), encoding="utf-8-sig" if bom else "utf-8")


def generate(out: Path, reference_dir: Path) -> list[Path]:
    rng = np.random.default_rng(SEED)
    communes = pd.read_csv(reference_dir / "communes.csv", sep=";", dtype={"code_commune": str, "siren_epci": str,
                                                                           "departement": str})
    communes = communes[communes.departement == DEP]
    epci = pd.read_csv(reference_dir / "epci.csv", sep=";", dtype={"siren": str, "departement": str})
    epci = epci[epci.departement == DEP]
    out.mkdir(parents=True, exist_ok=True)
    dep = departement_series(rng)
    com = communes_series(rng, dep, communes)
    epc = epci_series(com, communes, epci)
    fam = family_config(dep)
    files = {
        out / f"s_ben_dep_{DEP}.csv": dep,
        out / f"s_ben_com_f_{DEP}.csv": com,
        out / f"s_ben_epci_f_{DEP}.csv": epc,
        out / f"configuration_familiale_{DEP}.csv": fam,
    }
    for path, df in files.items():
        write_csv(df, path, bom=not path.name.startswith("configuration"))
    (out / "DEMONSTRATION").write_text(
        "Jeu de données de démonstration (illustratif), produit par `python -m helpers.data.demo` "
        f"(graine {SEED}).\nSeuls les totaux départementaux de décembre 2023 sont les chiffres publiés.\n",
        encoding="utf-8")
    return list(files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Régénère le jeu de démonstration intégré (data/demo).")
    ap.add_argument("--out", type=Path, default=config.DATA_DIR / "demo")
    ap.add_argument("--reference-dir", type=Path, default=config.DATA_DIR / "reference")
    a = ap.parse_args(argv)
    for p in generate(a.out, a.reference_dir):
        print(f"écrit : {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
