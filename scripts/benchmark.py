"""Benchmark of the annual build: times `rapport build` end to end (fresh process each run,
as the batch does) and prints the median and spread of the runs.

    .venv/bin/python scripts/benchmark.py --year 2023 --runs 3 [--formats html,pdf]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description="Mesure la durée de « rapport build » (médiane de plusieurs essais).")
    ap.add_argument("--year", default="2023")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--formats", default="html,pdf")
    ap.add_argument("extra", nargs="*", help="options supplémentaires passées à rapport build (après --)")
    a = ap.parse_args()
    rapport = Path(sys.executable).with_name("rapport")
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.runs):
            out = Path(tmp) / f"essai{i}"
            t0 = time.perf_counter()
            subprocess.run([str(rapport), "-q", "build", "--year", a.year, "--formats", a.formats, "--out", str(out),
                            *a.extra], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
            print(f"essai {i + 1} : {times[-1]:.1f} s".replace(".", ","))
    med = statistics.median(times)
    print(f"médiane : {med:.1f} s ; min {min(times):.1f} s ; max {max(times):.1f} s ({a.runs} essais, "
          f"formats {a.formats})".replace(".", ","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
