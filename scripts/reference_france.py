"""Derive the national reference tables (data/reference/france/) and the embedded open data of the
nine départements of the national test set (data/opendata/<dep>/) from the shared reference folder
(`national-t3`: @etalab/decoupage-administratif 5.3.0, Cafdata petite enfance 2023, Cafdata
commune files re-laid in the export layout, IGN Admin Express 2018 outlines).

Run from the project root: .venv/bin/python scripts/reference_france.py [NATIONAL_T3_DIR]
It rewrites the derived files and prints their sha256 for data/reference/SOURCES.yaml and
data/opendata/SOURCES.yaml. Nothing of the Charente-Maritime (17) is touched."""
from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# default: ../shared beside the project, as the development and CI machines have it
T3 = (Path(sys.argv[1]) if len(sys.argv) > 1
      else Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "national-t3")
DA = T3 / "geo" / "decoupage-administratif-5.3.0"
DEPS = ["13", "2A", "75", "92", "93", "94", "971", "973", "974"]
OUTLINES = {"13": "13-bouches-du-rhone", "2A": "2A-corse-du-sud", "75": "75-paris", "92": "92-hauts-de-seine",
            "93": "93-seine-saint-denis", "94": "94-val-de-marne", "971": "971-guadeloupe", "973": "973-guyane",
            "974": "974-la-reunion"}
# The project's EPCI types: CA, CC, CU, ME (métropole), ML (Métropole de Lyon, collectivité à statut particulier)
TYPES = {"CA": "CA", "CC": "CC", "CU": "CU", "METRO": "ME", "MET69": "ML"}
YEAR_IN_FORCE, CENSUS = 2025, 2022  # DGCL 2025 populations: legal populations in force on 1 January 2025


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    communes = json.loads((DA / "communes.json").read_text(encoding="utf-8"))
    epcis = json.loads((DA / "epci.json").read_text(encoding="utf-8"))
    out = ROOT / "data" / "reference" / "france"
    written: list[Path] = []

    # Départements of a département (not the COM: 975, 977, 978, 98x)
    actuelles = [c for c in communes if c["type"] == "commune-actuelle" and len(c["departement"]) <= 3
                 and not c["departement"].startswith(("975", "977", "978", "98"))]
    member = {}  # commune -> (siren, DGCL population municipale)
    for e in epcis:
        for m in e["membres"]:
            member[m["code"]] = (e["code"], m["populationMunicipale"])
    rows = []
    for c in sorted(actuelles, key=lambda c: c["code"]):
        siren, pop = member.get(c["code"], ("", None))
        origin = "dgcl" if pop is not None else "cog"
        rows.append([c["code"], c["nom"], c["departement"], c["region"], siren,
                     pop if pop is not None else c.get("population", ""), YEAR_IN_FORCE, origin])
    p = out / "communes_2025.csv"
    write_csv(p, ["code_commune", "nom", "departement", "region", "siren_epci", "population_municipale",
                  "annee_vigueur", "origine_population"], rows)
    written.append(p)
    dep_of = {c["code"]: c["departement"] for c in actuelles}

    rows = []
    for e in sorted(epcis, key=lambda e: e["code"]):
        deps = sorted({dep_of.get(m["code"], m["code"][:3] if m["code"].startswith("97") else m["code"][:2])
                       for m in e["membres"]})
        rows.append([e["code"], e["nom"], TYPES[e["type"]], len(e["membres"]), e["populationMunicipale"],
                     "|".join(deps), YEAR_IN_FORCE, CENSUS])
    p = out / "epci_2025.csv"
    write_csv(p, ["siren", "nom", "type", "nb_communes", "population_municipale", "departements",
                  "annee_vigueur", "millesime_rp"], rows)
    written.append(p)

    rows = [[c["code"], c["nom"], c["commune"], c["departement"]]
            for c in sorted(communes, key=lambda c: c["code"]) if c["type"] == "arrondissement-municipal"]
    p = out / "arrondissements_2025.csv"
    write_csv(p, ["code_arrondissement", "nom", "code_commune", "departement"], rows)
    written.append(p)

    # Old codes (communes déléguées or associées) -> the current commune that holds them
    rows = sorted({(c["code"], c["chefLieu"], c["departement"]) for c in communes
                   if c["type"] in ("commune-deleguee", "commune-associee") and c.get("chefLieu")
                   and c["code"] != c["chefLieu"]})
    p = out / "codes_anciens_2025.csv"
    write_csv(p, ["code_ancien", "code_commune", "departement"], [list(r) for r in rows])
    written.append(p)
    current = {code: chef for code, chef, _ in rows}

    pe = json.loads((T3 / "cafdata-petite-enfance" / "petite-enfance.json").read_text(encoding="utf-8"))
    names_e = {e["code"]: e["nom"] for e in epcis}
    names_c = {c["code"]: c["nom"] for c in actuelles}
    regions = {r["code"]: r["nom"] for r in csv.DictReader(open(ROOT / "data/reference/regions.csv", encoding="utf-8"),
                                                         delimiter=";")}
    pe_rows = [["france", "FR", "France", pe["annee"], *pe["france"]]]
    pe_rows += [["region", k, regions.get(k, ""), pe["annee"], *v] for k, v in sorted(pe["r"].items()) if k in regions]
    pe_rows += [["departement", k, "", pe["annee"], *v] for k, v in sorted(pe["d"].items())]
    pe_rows += [["epci", k, names_e.get(k, ""), pe["annee"], *v] for k, v in sorted(pe["e"].items()) if k != "XX"]
    pe_rows += [["commune", k, names_c.get(k, ""), pe["annee"], *v] for k, v in sorted(pe["c"].items())]
    p = out / "petite-enfance" / f"txcouv_pe_{pe['annee']}_france.csv"
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["niveau", "code", "nom", "annee", "txcouv", "txcouv_eaje", "txcouv_am_ind", "txcouv_prescol",
                    "txcouv_gad_ind"])
        w.writerows(pe_rows)
    written.append(p)

    # The nine départements: Cafdata commune files, and outlines merged to the 2025 geography
    import geopandas as gpd
    import shapely

    epci_by = {e["code"]: e for e in epcis}
    for dep in DEPS:
        src = T3 / "cafdata-communes" / "official-layout-DERIVED" / f"s_ben_com_f_{dep}.csv"
        dst = ROOT / "data" / "opendata" / dep / "cafdata" / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        written.append(dst)

        g = gpd.read_file(T3 / "geo" / "communes-geojson-2018" / f"communes-{OUTLINES[dep]}.geojson")
        g["code"] = g["code"].astype(str).map(lambda c: current.get(c, c))
        g = g.dissolve(by="code", as_index=False)[["code", "geometry"]]
        g["nom"] = g.code.map(names_c)
        g["siren_epci"] = g.code.map(lambda c: member.get(c, ("",))[0])
        g["nom_epci"] = g.siren_epci.map(lambda s: epci_by[s]["nom"] if s in epci_by else "")
        missing = set(c for c, d in dep_of.items() if d == dep) ^ set(g.code)
        if missing:
            raise SystemExit(f"{dep}: outlines and COG 2025 differ: {sorted(missing)}")
        g["geometry"] = shapely.set_precision(g.geometry.simplify(0.0007, preserve_topology=True), 1e-4)
        geo_dir = ROOT / "data" / "opendata" / dep / "geo"
        geo_dir.mkdir(parents=True, exist_ok=True)
        p = geo_dir / f"communes_{dep}_2025.geojson"
        g[["code", "nom", "siren_epci", "nom_epci", "geometry"]].to_file(p, driver="GeoJSON",
                                                                            COORDINATE_PRECISION=4, RFC7946="YES")
        written.append(p)
        e = g.dissolve(by="siren_epci", as_index=False)[["siren_epci", "geometry"]].rename(columns={"siren_epci": "siren"})
        e["nom"] = e.siren.map(lambda s: epci_by[s]["nom"])
        e["type"] = e.siren.map(lambda s: TYPES[epci_by[s]["type"]])
        e["geometry"] = shapely.set_precision(e.geometry, 1e-4)
        p = geo_dir / f"epci_{dep}.geojson"
        e[["siren", "nom", "type", "geometry"]].to_file(p, driver="GeoJSON", COORDINATE_PRECISION=4, RFC7946="YES")
        written.append(p)
        comp = [[YEAR_IN_FORCE, member[c][0], c, member[c][1]] for c in sorted(g.code)]
        p = geo_dir / f"epci_{dep}_composition_2025.csv"
        with open(p, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["annee_dgcl", "siren_epci", "insee", "pmun"])
            w.writerows(comp)
        written.append(p)

    for p in written:
        print(f"{p.relative_to(ROOT)}\t{p.stat().st_size}\t{sha(p)}")


if __name__ == "__main__":
    main()
