"""Batches: `rapport build --year 2021-2024 --departement 17,33` (or `all`) builds one report per year and
département, each in its own folder (`outputs/ANNÉE` for one département, `outputs/DÉPARTEMENT/ANNÉE` for several),
all at once (build.run: their chapters share the cores), goes on past a report that fails, and lists every
failure at the end (exit code 1 if any failed)."""
from __future__ import annotations

import argparse
import re
import sys

from helpers import config
from helpers.errors import DataError, ParamError, RapportError
from helpers.fmt import NBSP


def years(text: str) -> list[str]:
    """'2023' -> ['2023']; '2021-2024' -> the four years; '2021,2023' -> both. A single value is left to the
    parameters' own check (it names what is wrong with it)."""
    text = str(text).strip()
    if "," not in text and not re.match(r"\d{4}\s*-", text):
        return [text]  # one value: `rapport check` and `rapport build` refuse it with the same message
    out: list[str] = []
    for part in (x.strip() for x in text.split(",")):
        m = re.fullmatch(r"(\d{4})\s*-\s*(\d{4})", part)
        if m:
            a, b = int(m[1]), int(m[2])
            if a > b:
                raise ParamError(f"Paramètre « --year »{NBSP}: intervalle « {part} » à l’envers (écrire {b}-{a})")
            out += [str(y) for y in range(a, b + 1)]
        elif re.fullmatch(r"\d{4}", part):
            out.append(part)
        else:
            raise ParamError(f"Paramètre « --year »{NBSP}: « {part} » n’est ni une année (2023), ni un intervalle "
                             f"(2021-2024){NBSP}; plusieurs valeurs se séparent par des virgules")
    return list(dict.fromkeys(out))


def with_data() -> list[str]:
    """The départements whose Cafdata exports are embedded (data/opendata/<dep>/cafdata) or fetched
    (data/cache/<dep>/cafdata)."""
    found = set()
    for base in (config.DATA_DIR / "opendata", config.DATA_DIR / "cache"):
        if base.is_dir():
            found |= {d.name for d in base.iterdir() if (d / "cafdata").is_dir()}
    return sorted(found)


def departements(text: str | None) -> list[str | None]:
    if text is None:
        return [None]
    text = text.strip()
    if text.lower() in ("all", "tous"):
        found = with_data()
        if not found:
            raise ParamError(f"Paramètre « --departement all »{NBSP}: aucun département n’a de données "
                             "(data/opendata/CODE/cafdata ou data/cache/CODE/cafdata)")
        return found
    parts = [x.strip() for x in text.split(",") if x.strip()]
    if not parts:
        raise ParamError(f"Paramètre « --departement »{NBSP}: aucun code donné")
    return list(dict.fromkeys(parts))


def _message(exc: RapportError) -> str:
    if isinstance(exc, DataError):
        n = len(exc.problems)
        return f"erreur dans les données ({n} problème{'s' if n > 1 else ''}){NBSP}:\n{exc}"
    if isinstance(exc, ParamError):
        return f"erreur de paramètre{NBSP}:\n{exc}"
    return str(exc)


def run_batch(args: argparse.Namespace, years_: list[str], deps: list[str | None], progress, resolve_fn) -> int:
    """Build every (département, year) report; exit code 0 if all were built or up to date, else 1."""
    from helpers.build import Report, Written, run
    several = len(deps) > 1
    base = args.out or config.OUTPUTS_DIR
    units, failures, reports, slots = [], [], [], []
    for dep in deps:
        for year in years_:
            name = f"{dep}/{year}" if several else f"{year}"
            units.append(name)
            one = argparse.Namespace(**{**vars(args), "year": year, "departement": dep})
            try:
                resolved, overrides = resolve_fn(one)
            except ParamError as exc:
                failures.append((name, exc))
                continue
            out = base / resolved.params.departement / str(resolved.params.year) if several else \
                base / str(resolved.params.year)
            reports.append(Report(resolved, out, args.params, overrides, label=f"{name} · "))
            slots.append(name)
    results = run(reports, force=args.force, jobs=args.jobs, progress=progress, keep_going=True,
                  executor=getattr(args, "executor", None)) if reports else []
    done = 0
    for name, res in zip(slots, results):
        if isinstance(res, Written):
            done += 1
            if res.unchanged:
                print(f"{name}{NBSP}: {res.unchanged}")
            for w in res:
                print(f"écrit : {w}")
        else:
            failures.append((name, res))
    order = {n: i for i, n in enumerate(units)}
    failures.sort(key=lambda f: order[f[0]])
    print(f"Lot{NBSP}: {done} rapport{'s' if done > 1 else ''} sur {len(units)} construit{'s' if done > 1 else ''} "
          f"ou à jour.")
    if failures:
        print(f"Échecs ({len(failures)} sur {len(units)}){NBSP}:", file=sys.stderr)
        for name, exc in failures:
            text = _message(exc).replace("\n", "\n    ")
            print(f"  - {name}{NBSP}: {text}", file=sys.stderr)
        return 1
    return 0
