"""The portrait of one EPCI, for its CTG's shared diagnosis (`rapport territoires`): its figures beside
the département's, its communes, its childcare coverage, its conventions and cooperation posts. Built
from the same checked data as the report; commune counts are rounded to 5, said so, and no rate is
shown for a commune too small for it to mean anything."""
from __future__ import annotations

import re

import pandas as pd

from helpers import fmt, lineage
from helpers.chapters import portrait
from helpers.chapters.context import Context, once
from helpers.chapters.registry import ChapterSpec
from helpers.data.cafdata import Totals
from helpers.indicators import cooperation as ind_coop
from helpers.indicators import ctg as ind_ctg
from helpers.indicators import portrait as ind_portrait
from helpers.indicators import territoire as ind
from helpers.lineage import sourced
from helpers.report import charts

SPEC = ChapterSpec(key="territoire", notebook="04_territoire.ipynb", title="portrait d’un EPCI",
                   reads=("cafdata", "registers", "childcare", "series", "national"), labels={},
                   registers=("ctg", "postes"), registers_by_territory=True)  # its EPCI's rows: _ctg_rows, postes
SMALL_COMMUNE = ind.SMALL_COMMUNE


def disponible(ctx: Context) -> bool:
    return bool(ctx.p.territoire and ctx.p.territoire in ctx.reference.sirens() and ctx.cafdata is not None)


def kept_values(ctx: Context) -> dict[str, float]:
    return {}  # nothing of a territory is compared with the report's published figures


def illustrative_keys(ctx: Context) -> set[str]:
    return set()


def illustratif_chapitre(ctx: Context) -> bool:
    return bool(ctx.cafdata is not None and ctx.cafdata.illustrative)


def siren(ctx: Context) -> str:
    return ctx.p.territoire


def nom(ctx: Context) -> str:
    epci = ctx.reference.epci_names(ctx.year)
    row = epci[epci.siren == siren(ctx)]
    return str(row.nom.iloc[0]) if not row.empty else siren(ctx)


def short_name(ctx_or_name) -> str:
    """`cc-de-l-ile-de-re` for file names."""
    return fmt.slug(ctx_or_name if isinstance(ctx_or_name, str) else nom(ctx_or_name), ligatures=True)


@once
def totaux(ctx: Context, year: int | None = None) -> Totals:
    y = ctx.year if year is None else year
    t = ind.totals(ctx.cafdata, ctx.reference, siren(ctx), y)
    n = len(ind.communes(ctx.cafdata, ctx.reference, siren(ctx), y))
    return Totals(y, t.get("indfoy_ndur", float("nan")), t.get("indnbp_ndur", float("nan")), t, "s_ben_com_f", True, n)


@once
def classement(ctx: Context) -> pd.DataFrame:
    """Every EPCI of the département with its coverage rate, highest first, from the sums of its communes: the
    portrait's foyers and personnes are those sums, its rate and rank rest on the same rows (an EPCI file, when
    there is one, is rounded on its own)."""
    return ind_portrait.coverage_by_epci(ctx.cafdata, ctx.reference, ctx.year, communes_only=True)


@once
def valeurs(ctx: Context) -> lineage.Valeurs:
    # the département's totals of the year alone: the portrait's own year also reads the family extract,
    # which no figure of a territory shows (nor should its source line or its mark reach them)
    t, dep = totaux(ctx), portrait.totaux(ctx, ctx.year)
    dep_population = int(ctx.reference.epci_year(ctx.year)[0].population_municipale.sum())
    prev = totaux(ctx, ctx.year - 1) if ctx.year - 1 in ctx.cafdata.years() else None
    table = classement(ctx)
    me = table[table.siren == siren(ctx)].iloc[0]
    rang = int(table.index[table.siren == siren(ctx)][0]) + 1
    v = ctx.base_values()
    v.update({
        "nom": nom(ctx), "siren": siren(ctx),
        "foyers": fmt.nombre(t.foyers), "personnes": fmt.nombre(t.personnes),
        "population": fmt.nombre(me.population_municipale), "part_habitants_couverts": fmt.pourcent(me.part_habitants_couverts),
        "rang": fmt.ordinal(rang), "n_epci": fmt.nombre(len(table)),
        "rang_explique": rang_explique(rang, len(table)),
        "phrase_rang": (f"ce qui le place au {fmt.ordinal(rang)} rang sur {fmt.nombre(len(table))} EPCI du département "
                        "(classés de la part la plus élevée à la plus basse)" if len(table) > 1
                        else "pour le seul EPCI du département"),
        "communes": fmt.nombre(t.n_rows),
        "phrase_communes": _phrase_communes(t.n_rows, entier(ctx)),
        "dep_foyers": fmt.nombre(dep.foyers), "dep_personnes": fmt.nombre(dep.personnes),
        "dep_part_habitants_couverts": fmt.pourcent(dep.personnes / dep_population) if dep_population else "n.d.",
        "part_dep": fmt.pourcent(t.personnes / dep.personnes, 1),
        "arrondi": fmt.nombre(t.rounding_bound),
        "evol": (f" ({fmt.variation(t.foyers / prev.foyers - 1, 1, True)} en un an)"
                 if prev is not None and prev.foyers else ""),
    })
    return lineage.Valeurs(v)  # also as attributes, for the notebook's Markdown (« {eval}`v.foyers` »)


def rang_explique(rang: int, n: int) -> str:
    """What a rank is: « 3ᵉ sur 13 EPCI, de la part la plus élevée à la plus basse » (none for a lone EPCI)."""
    if n <= 1:
        return "seul EPCI du département"
    return f"{fmt.ordinal(rang)} sur {fmt.nombre(n)} EPCI, de la part la plus élevée à la plus basse"


def entier(ctx: Context) -> bool:
    """The EPCI lies wholly in the département (else only its communes here are counted, notes() says so)."""
    return siren(ctx) not in set(ctx.reference.spanning(ctx.year).siren)


def _phrase_communes(n: int, whole: bool) -> str:
    """« dans les 36 communes de l’EPCI », « dans l’unique commune de l’EPCI », « dans la seule commune de
    l’EPCI située dans le département »."""
    if n == 1:
        return "dans l’unique commune de l’EPCI" if whole else "dans la seule commune de l’EPCI située dans le département"
    return f"dans les {fmt.nombre(n)} communes de l’EPCI" + ("" if whole else " situées dans le département")


def notes(ctx: Context) -> list[str]:
    """The notes of an EPCI that spans départements: the part of it counted here, and that its childcare rate,
    published for the whole EPCI, is not restricted to it."""
    out = ctx.notes_hors_departement(siren(ctx))
    if out and petite_enfance(ctx) is not None:
        out.append("Le taux de couverture petite enfance, publié par la Cnaf pour l’EPCI entier, porte sur toutes "
                   "ses communes, y compris celles des autres départements.")
    return out


def chiffres_cles(ctx: Context) -> list[tuple]:
    v = valeurs(ctx)
    items = [(v["foyers"], "foyers allocataires", f"département : {v['dep_foyers']}"),
             (v["personnes"], "personnes couvertes", f"{v['part_dep']} de celles du département"),
             (v["part_habitants_couverts"], "des habitants couverts par la Caf",
              f"département : {v['dep_part_habitants_couverts']} ; {v['rang_explique']}")]
    pe = petite_enfance(ctx)
    if pe is not None:
        items.append((fmt.nombre(pe["epci"], 1), "places d’accueil pour 100 enfants de moins de 3 ans",
                      f"{pe['annee']}{'' if entier(ctx) else ', EPCI entier'} ; département : "
                      f"{fmt.nombre(pe['departement'], 1)}"))
    return items


@sourced
def tableau_prestations(ctx: Context):
    t = totaux(ctx)
    prev = totaux(ctx, ctx.year - 1) if ctx.year - 1 in ctx.cafdata.years() else None
    b = ind_portrait.benefit_groups(t, prev).sort_values("foyers", ascending=False)
    dep = ind_portrait.benefit_groups(portrait.totaux(ctx, ctx.year), None).set_index("groupe")
    out = pd.DataFrame({
        "Prestation": b.groupe,
        "Foyers bénéficiaires": b.foyers.map(fmt.nombre),
        "Part des foyers allocataires": b.part.map(fmt.pourcent),
        "Part dans le département": b.groupe.map(lambda g: fmt.pourcent(dep.part.get(g)) if g in dep.index else "–"),
        "Évolution en un an": b.variation.map(lambda x: fmt.variation(x, 1, True)),
    })
    resume = (f"Foyers bénéficiaires de chaque groupe de prestations en décembre {ctx.year} dans l’EPCI, et leur "
              "part des foyers allocataires, dans l’EPCI et dans le département.")
    return out, resume


def evolution(ctx: Context) -> pd.DataFrame:
    return ind.evolution(ctx.cafdata, ctx.reference, siren(ctx), ctx.year)


@sourced
def figure_evolution(ctx: Context):
    return portrait.evolution_figure(evolution(ctx), ctx.year)


@once
def communes(ctx: Context) -> pd.DataFrame:
    """The EPCI's communes with their population in force and their coverage rate (none under 200 inhabitants)."""
    c = ind.communes(ctx.cafdata, ctx.reference, siren(ctx), ctx.year)
    pops = ctx.geo.commune_populations(ctx.year) if ctx.geo is not None else None
    if pops is not None:
        c = c.drop(columns=["population"]).merge(pops[["code", "population"]], on="code", how="left")
    c["part_habitants_couverts"] = ind.part_commune(c.indnbp_ndur, c.population)
    return c.sort_values("nom").reset_index(drop=True)


@sourced
def tableau_communes(ctx: Context):
    c = communes(ctx)
    show = lambda x, d=0: "–" if pd.isna(x) else fmt.nombre(x, d)  # noqa: E731
    out = pd.DataFrame({
        "Commune": c.nom,
        "Population municipale": c.population.map(show),
        "Foyers allocataires": c.indfoy_ndur.map(show),
        "Personnes couvertes": c.indnbp_ndur.map(show),
        "Part des habitants couverts": c.part_habitants_couverts.map(lambda x: "–" if pd.isna(x) else fmt.pourcent(x)),
    })
    if len(c) > 1:  # the EPCI's total: sums of the rows above (the population of the communes with one)
        pop, foy, pers = c.population.sum(min_count=1), c.indfoy_ndur.sum(min_count=1), c.indnbp_ndur.sum(min_count=1)
        out.loc[len(out)] = [f"Ensemble de l’EPCI ({fmt.nombre(len(c))} communes)", show(pop), show(foy), show(pers),
                             "–" if pd.isna(pop) or not pop or pd.isna(pers) else fmt.pourcent(pers / pop)]
    small = int((c.population < SMALL_COMMUNE).sum())
    resume = (f"{fmt.nombre(len(c))} communes ; effectifs arrondis à 5 par la Cnaf"
              + (f" ; pas de taux pour {fmt.pluriel(small, 'commune', 'communes')} de moins de "
                 f"{fmt.nombre(SMALL_COMMUNE)} habitants." if small else "."))
    return out, resume


@sourced
def carte_communes(ctx: Context):
    if ctx.geo is None or not ctx.geo.communes_files:
        return None
    c = communes(ctx)
    shapes = ctx.geo.communes(ctx.year + 1)
    g = shapes[shapes.code.isin(set(c.code))][["code", "geometry"]].merge(c[["code", "nom", "part_habitants_couverts"]], on="code")
    if g.empty:
        return None
    villes = villes_principales(c)
    towns = g[g.code.isin(set(villes.code))]
    fig = charts.choropleth(g, "part_habitants_couverts", "Personnes couvertes / population",
                            missing_label=f"moins de {fmt.nombre(SMALL_COMMUNE)} habitants ou sans donnée",
                            outline=towns, outline_names="nom")
    known = g.dropna(subset=["part_habitants_couverts"])
    alt = (f"Carte des {len(g)} communes de l’EPCI colorées selon la part des habitants couverts par la Caf"
           + (f", de {fmt.pourcent(known.part_habitants_couverts.min())} à {fmt.pourcent(known.part_habitants_couverts.max())}" if not known.empty else "")
           + f" ; {len(g) - len(known)} communes sans taux"
           + (f" ; communes nommées : {', '.join(towns.nom)}." if not towns.empty else "."))
    return fig, alt


MAIN_TOWNS = 10  # communes named on an EPCI's map: all of a small EPCI, else its most populated


def villes_principales(c: pd.DataFrame, n: int = MAIN_TOWNS) -> pd.DataFrame:
    """The communes named on the map: every commune of an EPCI of at most `n`, else the `n` most populated
    (ties by name, so the choice is stable)."""
    if len(c) <= n:
        return c
    return c.sort_values(["population", "nom"], ascending=[False, True], na_position="last").head(n)


def petite_enfance(ctx: Context) -> dict | None:
    c = ctx.childcare
    if c is None or c.year > ctx.year or c.value("epci", siren(ctx)) is None:
        return None
    region = c.level("region")
    return {"annee": c.year, "epci": c.value("epci", siren(ctx)),
            "departement": c.value("departement", ctx.p.departement),
            "region": float(region.txcouv.iloc[0]) if not region.empty else None,
            "region_nom": str(region.nom.iloc[0]) if not region.empty else "région",
            "france": c.value("france", "FR")}


@sourced
def tableau_petite_enfance(ctx: Context):
    pe = petite_enfance(ctx)
    if pe is None:
        return None
    rows = [(nom(ctx), pe["epci"]), ("Département", pe["departement"]), (pe["region_nom"], pe["region"]),
            ("France", pe["france"])]
    out = pd.DataFrame({"Territoire": [r[0] for r in rows],
                        "Places pour 100 enfants de moins de 3 ans": [fmt.nombre(r[1], 1) if r[1] is not None else "–"
                                                                      for r in rows]})
    resume = (f"Taux de couverture global petite enfance {pe['annee']} : {fmt.nombre(pe['epci'], 1)} dans l’EPCI, "
              f"{fmt.nombre(pe['departement'], 1)} dans le département, {fmt.nombre(pe['france'], 1)} en France.")
    return out, resume


def _illustrative_rows(frame: pd.DataFrame) -> bool:
    return bool(frame.source.str.strip().str.lower().str.startswith("illustratif").any()) if len(frame) else False


_DAY_UNKNOWN = re.compile(r"(jour|date) de signature illustrati", re.IGNORECASE)


def _signee(r) -> str:
    """« le 16 décembre 2019 », or « en décembre 2019 » when the row's source says that only the month is
    known (its day is illustrative): a day the register does not vouch for is not printed."""
    if isinstance(r.source, str) and _DAY_UNKNOWN.search(r.source):
        return f"en {fmt.mois_annee(r.date_signature.date())}"
    return f"le {fmt.date_longue(r.date_signature.date())}"


def _ctg_rows(ctx: Context) -> pd.DataFrame:
    """Every convention of the EPCI in the register, signed before or after the observation date (a read of
    these rows alone: their marks and their source line)."""
    return ctx.registers.lignes("ctg", lambda f: f.siren_epci == siren(ctx)).sort_values("date_signature")


def _statut(r, at: pd.Timestamp, later: pd.DataFrame) -> str:
    if r.date_signature > at:
        return "signée après cette date"
    if r.date_debut > at:
        return "signée, période à venir"
    if r.date_fin < at:
        return "terminée" + (", renouvelée" if not later.empty else "")
    return "en vigueur"


def _renouvellement(r, at: pd.Timestamp, year: int, later: pd.DataFrame) -> str:
    if not later.empty:
        n = later.iloc[0]
        return f"CTG {n.date_debut.year}-{n.date_fin.year} signée {_signee(n)}"
    if r.date_signature > at:
        return f"fin {r.date_fin.year}"
    return f"fin {r.date_fin.year}" + (" : à préparer" if r.date_fin.year <= year + 1 else "")


@sourced
def conventions(ctx: Context):
    """Its CTG, the register's whole story at the observation date: in force, signed after the date, ended
    and renewed (the next convention named), renewal to prepare only when no later one is in the register."""
    if ctx.registers is None:
        return None
    at = ind_ctg.end_of_year(ctx.year)
    rows = _ctg_rows(ctx)
    if rows.empty:
        return None
    after = lambda r: rows[rows.date_debut > r.date_debut]  # noqa: E731  the conventions that follow it
    out = pd.DataFrame({
        "Signature": [_signee(r).removeprefix("le ").removeprefix("en ") for r in rows.itertuples()],
        "Période": [f"{d.year}-{f.year}" for d, f in zip(rows.date_debut, rows.date_fin)],
        "Thématiques": rows.themes.map(lambda t: ", ".join(t) if isinstance(t, list) else ""),
        f"Au {ctx.date_obs}": [_statut(r, at, after(r)) for r in rows.itertuples()],
        "Renouvellement": [_renouvellement(r, at, ctx.year, after(r)) for r in rows.itertuples()],
    })
    resume = f"{fmt.pluriel(len(rows), 'convention', 'conventions')} pour cet EPCI dans le registre de la Caf."
    return out, resume, _illustrative_rows(rows)


def conventions_texte(ctx: Context) -> tuple[str, dict]:
    """One paragraph on the EPCI's CTG at the observation date, from the register's rows for it: in force
    (since when, until when, renewed or to renew), signed after the date, ended, or none."""
    v = ctx.base_values()
    if ctx.registers is None:
        return "Aucun registre des conventions territoriales globales n’est tenu pour ce département.", v
    at = ind_ctg.end_of_year(ctx.year)
    with lineage.recording() as reads:
        rows = _ctg_rows(ctx)
    val = lambda text: lineage.Valeur(text, reads)  # noqa: E731
    if rows.empty:
        return "Aucune convention territoriale globale n’est inscrite pour cet EPCI dans le registre de la Caf.", v
    before, later = rows[rows.date_signature <= at], rows[rows.date_signature > at]
    force = ind_ctg.ctg_in_force(rows, at)
    parts = []
    if not force.empty:
        f = force.iloc[-1]
        parts.append(f"Au {ctx.date_obs}, l’EPCI est couvert par une convention territoriale globale signée "
                     f"{_signee(f)} pour {f.date_debut.year}-{f.date_fin.year}.")
        nxt = rows[rows.date_debut > f.date_debut]
        if not nxt.empty:
            n = nxt.iloc[0]
            parts.append(f"La convention suivante, pour {n.date_debut.year}-{n.date_fin.year}, a été signée "
                         f"{_signee(n)}.")
        elif f.date_fin.year <= ctx.year + 1:
            parts.append(f"Son renouvellement est à préparer pour la fin de {f.date_fin.year}.")
    elif not before.empty:
        last = before.iloc[-1]
        parts.append(f"Au {ctx.date_obs}, la dernière convention territoriale globale de l’EPCI, signée "
                     f"{_signee(last)} pour {last.date_debut.year}-{last.date_fin.year}, "
                     + ("n’a pas encore commencé." if last.date_debut > at else "est terminée."))
    else:
        parts.append(f"Au {ctx.date_obs}, aucune convention territoriale globale n’était signée avec l’EPCI.")
    if force.empty and not later.empty:
        n = later.iloc[0]
        parts.append(f"Une {'nouvelle ' if not before.empty else ''}CTG a été signée {_signee(n)}, pour "
                     f"{n.date_debut.year}-{n.date_fin.year}.")
    v["recit_ctg"] = val(" ".join(parts))
    return "{recit_ctg}", v


@sourced
def postes(ctx: Context):
    if ctx.registers is None:
        return None
    act = ind_coop.posts_active(ctx.registers.lignes("postes", lambda f: f.siren_epci == siren(ctx)),
                                ind_coop.end_of_year(ctx.year))
    if act.empty:
        return None
    out = pd.DataFrame({
        "Poste": noms_postes(act, nom(ctx)), "ETP": act.etp.map(lambda x: fmt.nombre(x, 1)),
        "Financement Caf": act.financement_caf.map(fmt.montant),
        "Financement des collectivités": act.financement_collectivites.map(fmt.montant),
    })
    resume = (f"{fmt.pluriel(len(act), 'poste', 'postes')} en cours au {ctx.date_obs}, "
              f"{fmt.nombre(act.etp.sum(), 1)} ETP.")
    return out, resume, _illustrative_rows(act)


def noms_postes(act: pd.DataFrame, epci: str) -> list[str]:
    """Each post by what it is: « Chargé de coopération thématique (2 sur 3), CC Aunis Atlantique, 0,8 ETP »,
    never by its register id."""
    total = act.type_poste.value_counts()
    seen: dict[str, int] = {}
    names = []
    for t, etp in zip(act.type_poste, act.etp):
        seen[t] = seen.get(t, 0) + 1
        rank = f" ({seen[t]} sur {total[t]})" if total[t] > 1 else ""
        kind = "Chargé de coopération" + ("" if t == "coopération" else f" {t}")
        names.append(f"{kind}{rank}, {epci}, {fmt.nombre(etp, 1)} ETP")
    return names


# ---------------------------------------------------------------- the EPCI beside the département, region, France

def _series_change(ctx: Context, territoire: str, prestation: str) -> float | None:
    """One-year change of the December foyers of the AF (or CF) in the département's region or France."""
    s = ctx.series
    if s is None or ctx.year not in s.years() or ctx.year - 1 not in s.years():
        return None
    f = s.between(ctx.year - 1, ctx.year)
    f = f[(f.territoire == territoire) & (f.prestation == prestation)].set_index("annee").foyers
    if ctx.year not in f.index or ctx.year - 1 not in f.index or not f[ctx.year - 1]:
        return None
    return float(f[ctx.year] / f[ctx.year - 1] - 1)


def _national_change(ctx: Context, groupe: str) -> float | None:
    n = ctx.national  # foyers of the RSA, prime d'activité and aides au logement in France, or None
    if n is None:
        return None
    now, before = n.foyers(groupe, ctx.year), n.foyers(groupe, ctx.year - 1)
    return now / before - 1 if now is not None and before else None


@once
def comparaisons(ctx: Context) -> pd.DataFrame:
    """Each indicator of the portrait for the EPCI, the département, its region and France (None where no
    figure is published at that level): the share of inhabitants covered, the one-year change of the foyers
    of each benefit group, the childcare coverage. Columns: indicateur, unite (part, variation, places),
    epci, departement, region, france."""
    rows = []
    table = classement(ctx)
    me = table[table.siren == siren(ctx)].iloc[0]
    dep = portrait.totaux(ctx, ctx.year)
    dep_population = int(ctx.reference.epci_year(ctx.year)[0].population_municipale.sum())
    rows.append({"indicateur": "Part des habitants couverts par la Caf", "unite": "part",
                 "epci": float(me.part_habitants_couverts), "departement": dep.personnes / dep_population
                 if dep_population else None, "region": None, "france": None})
    if ctx.year - 1 in ctx.cafdata.years():
        mine = ind_portrait.benefit_groups(totaux(ctx), totaux(ctx, ctx.year - 1)).set_index("groupe")
        theirs = ind_portrait.benefit_groups(dep, portrait.totaux(ctx, ctx.year - 1)).set_index("groupe")
        for g in mine.index:
            if pd.isna(mine.variation[g]):
                continue
            af = g == "Allocations familiales"
            rows.append({"indicateur": f"{g} : évolution en un an des foyers bénéficiaires", "unite": "variation",
                         "epci": float(mine.variation[g]),
                         "departement": float(theirs.variation[g]) if g in theirs.index
                         and pd.notna(theirs.variation[g]) else None,
                         "region": _series_change(ctx, "region", "AF") if af else None,
                         "france": _series_change(ctx, "france", "AF") if af else _national_change(ctx, g)})
    pe = petite_enfance(ctx)
    if pe is not None:
        rows.append({"indicateur": f"Places d’accueil pour 100 enfants de moins de 3 ans ({pe['annee']})",
                     "unite": "places", "epci": pe["epci"], "departement": pe["departement"],
                     "region": pe["region"], "france": pe["france"]})
    return pd.DataFrame(rows, columns=["indicateur", "unite", "epci", "departement", "region", "france"])


def _show(x, unite: str) -> str:
    if x is None or pd.isna(x):
        return "–"
    return {"part": lambda v: fmt.pourcent(v), "variation": lambda v: fmt.variation(v, 1, True),
            "places": lambda v: fmt.nombre(v, 1)}[unite](x)


def region_nom(ctx: Context) -> str:
    if ctx.series is not None:
        return ctx.series.region_name
    pe = petite_enfance(ctx)
    return pe["region_nom"] if pe is not None else "Région"


@sourced
def tableau_comparaisons(ctx: Context):
    c = comparaisons(ctx)
    dep_row = portrait.departement_row(ctx.p.departement, ctx.p.reference_dir)
    out = pd.DataFrame({
        "Indicateur": c.indicateur,
        nom(ctx): [_show(x, u) for x, u in zip(c.epci, c.unite)],
        dep_row["nom"] if dep_row else "Département": [_show(x, u) for x, u in zip(c.departement, c.unite)],
        region_nom(ctx): [_show(x, u) for x, u in zip(c.region, c.unite)],
        "France": [_show(x, u) for x, u in zip(c.france, c.unite)],
    })
    absent = bool(c[["departement", "region", "france"]].isna().to_numpy().any())
    resume = (f"Décembre {ctx.year} ; l’EPCI est la somme de ses communes (effectifs arrondis à 5)"
              + (" ; « – » : aucun chiffre publié à cet échelon dans les données ouvertes utilisées." if absent
                 else "."))
    return out, resume


def _ecart(a: float, b: float, unite: str) -> tuple[str, str]:
    """The gap between two values as the tables print them: (« supérieure de 4 points à », sign word)."""
    if unite == "part":
        d = round(a * 100) - round(b * 100)
        size = fmt.pluriel(abs(d), "point", "points")
    else:  # places for 100 children, printed to a tenth
        d = round(round(a, 1) - round(b, 1), 1)
        size = f"{fmt.nombre(abs(d), 1)} {'place' if abs(d) < 2 else 'places'} pour 100 enfants"
    if d == 0:
        return "égale à", "="
    return (f"supérieure de {size} à" if d > 0 else f"inférieure de {size} à"), ("+" if d > 0 else "-")


MIN_FOYERS_COMMENT = 100  # a group of fewer foyers in the EPCI is not commented (counts rounded to 5)


def commentaire(ctx: Context) -> tuple[str, dict]:
    """Two or three computed sentences: the EPCI's coverage against the département and its rank, its
    childcare against France, the benefit group whose foyers changed most in a year, against the département."""
    v = ctx.base_values()
    c = comparaisons(ctx).set_index("indicateur")
    table = classement(ctx)
    parts = []
    cov = c.loc["Part des habitants couverts par la Caf"]
    if pd.notna(cov.departement):
        gap, _ = _ecart(cov.epci, cov.departement, "part")
        parts.append(f"La part des habitants couverts par la Caf ({_show(cov.epci, 'part')}) est {gap} celle du "
                     f"département ({_show(cov.departement, 'part')})"
                     + (f" ; l’EPCI est {rang_explique(int(table.index[table.siren == siren(ctx)][0]) + 1, len(table))}."
                        if len(table) > 1 else "."))
    pe = c[c.unite == "places"]
    if not pe.empty and pd.notna(pe.france.iloc[0]):
        r = pe.iloc[0]
        gap, _ = _ecart(r.epci, r.france, "places")
        parts.append(f"L’offre d’accueil des enfants de moins de 3 ans ({_show(r.epci, 'places')} places pour 100 "
                     f"enfants) est {gap} celle de la France ({_show(r.france, 'places')}).")
    if ctx.year - 1 in ctx.cafdata.years():
        b = ind_portrait.benefit_groups(totaux(ctx), totaux(ctx, ctx.year - 1))
        b = b[(b.foyers >= MIN_FOYERS_COMMENT) & b.variation.notna()]
        if not b.empty:
            top = b.loc[b.variation.abs().idxmax()]
            dep = c.loc[f"{top.groupe} : évolution en un an des foyers bénéficiaires", "departement"]
            if round(abs(top.variation), 3) >= 0.0005:  # not « 0,0 % » called a change
                parts.append(f"Parmi les prestations perçues par au moins {fmt.nombre(MIN_FOYERS_COMMENT)} foyers "
                             "de l’EPCI, l’évolution la plus marquée en un an est celle des foyers bénéficiaires "
                             f"{DE_GROUPE.get(top.groupe, 'de ' + top.groupe)} ("
                             f"{_show(top.variation, 'variation')}"
                             + (f", contre {_show(dep, 'variation')} dans le département" if pd.notna(dep) else "")
                             + ").")
    v["commentaire"] = " ".join(parts)
    return "{commentaire}", v


DE_GROUPE = {"Aides au logement": "des aides au logement", "Revenu de solidarité active": "du revenu de solidarité active",
             "Prime d’activité": "de la prime d’activité", "Allocations familiales": "des allocations familiales",
             "Petite enfance (Paje)": "de la Paje", "Handicap (AAH)": "de l’allocation aux adultes handicapés"}
