"""A national-size Cafdata commune export (about 35 000 communes x 5 Decembers) read and checked for one
département, as `rapport check` and `rapport build` do: prints the time and the peak memory.

    .venv/bin/python benchmarks/gros_export.py                  # about 200 MB (many measures), département 17
    .venv/bin/python benchmarks/gros_export.py --mesures 8      # the shipped layout's width (about 10 MB)
    .venv/bin/python benchmarks/gros_export.py --departement 2A --garder

The file is written in a temporary folder (removed unless --garder); the reading runs in a fresh process so
that its peak resident memory (ru_maxrss) is the reading's own. Target (issue 13, item 8): <= 2 s, <= 400 MB.
Self-contained: uses only the standard library and helpers.data.cafdata.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEPARTEMENTS = [f"{i:02d}" for i in range(1, 96) if i != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]
YEARS = range(2020, 2025)


def generate(path: Path, communes: int = 35_000, mesures: int = 310, seed: int = 13) -> int:
    """Write the export (streamed: the generator's memory stays small); return its size in bytes."""
    rnd = random.Random(seed)
    names = ["indfoy_ndur", "indnbp_ndur"] + [f"indfoy_m{i:03d}" for i in range(max(0, mesures - 2))]
    per_dep = communes // len(DEPARTEMENTS) + 1
    codes = []
    for dep in DEPARTEMENTS:
        width = 5 - len(dep)
        codes += [f"{dep}{n:0{width}d}" for n in range(1, min(per_dep, 10 ** width - 1) + 1)]
    codes = codes[:communes]
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        f.write(";".join(["dtreffre", "numcomdo", "nomcom", *names]) + "\n")
        for code in codes:
            size = rnd.randint(1, 4000)
            for y in YEARS:
                values = [5 * round(size / 5), 5 * round(2.3 * size / 5)]
                values += [5 * rnd.randint(0, size // 20 + 1) for _ in names[2:]]
                f.write(f"{y}-12;{code};Commune {code};" + ";".join(map(str, values)) + "\n")
        for y in YEARS:  # the non-localised allocataires of all France: empty code
            f.write(f"{y}-12;;;" + ";".join("15" for _ in names) + "\n")
    return path.stat().st_size


def read(path: Path, departement: str) -> None:
    from helpers.data.cafdata import read_export

    t0 = time.perf_counter()
    d = read_export(path, "s_ben_com_f", departement)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"lecture et contrôle : {elapsed:.2f} s ; mémoire maximale du processus : {peak:.0f} Mo ; "
          f"{len(d.frame)} lignes gardées pour le département {departement}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--communes", type=int, default=35_000)
    ap.add_argument("--mesures", type=int, default=310, help="colonnes de mesure (310 : environ 200 Mo)")
    ap.add_argument("--departement", default="17")
    ap.add_argument("--garder", action="store_true", help="garder le fichier généré")
    ap.add_argument("--lire", type=Path, help=argparse.SUPPRESS)  # the child process: read only
    args = ap.parse_args()
    if args.lire:
        read(args.lire, args.departement)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="gros-export-"))
    path = folder / "s_ben_com_f_FR.csv"
    t0 = time.perf_counter()
    size = generate(path, args.communes, args.mesures)
    print(f"généré : {path} ({size / 1e6:.0f} Mo, {args.communes} communes x {len(YEARS)} décembres) "
          f"en {time.perf_counter() - t0:.1f} s")
    try:
        return subprocess.call([sys.executable, __file__, "--lire", str(path), "--departement", args.departement])
    finally:
        if args.garder:
            print(f"fichier gardé : {path}")
        else:
            path.unlink()
            os.rmdir(folder)


if __name__ == "__main__":
    raise SystemExit(main())
