"""Portrait chapter: values, figures and tables computed from Cafdata and the references."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers import fmt, lineage
from helpers.chapters.context import Context, once
from helpers.chapters.registry import ChapterSpec
from helpers.data import series as ind_series
from helpers.data.cafdata import communes_year, totals
from helpers.errors import display_path
from helpers.indicators import portrait as ind
from helpers.indicators import territoire as ind_territoire
from helpers.lineage import sourced
from helpers.params import departement_row
from helpers.report import charts

SPEC = ChapterSpec(
    key="portrait", notebook="01_portrait.ipynb", title="portrait des allocataires",
    reads=("cafdata", "series", "registers"), registers=("evenements",),
    labels={"foyers_allocataires": ("Foyers allocataires", "nombre"),
            "personnes_couvertes": ("Personnes couvertes", "nombre"),
            "part_sans_enfant": ("Part des allocataires sans enfant", "part"),
            "part_habitants_caf": ("Part des habitants couverts par la Caf", "part")})


def disponible(ctx: Context) -> bool:
    return ctx.cafdata is not None


def illustratif_chapitre(ctx: Context) -> bool:
    """The whole chapter rests on illustrative data only with the demo set."""
    return bool(ctx.cafdata is not None and ctx.cafdata.illustrative)


@once
def evolution(ctx: Context):
    """Département totals by December up to the report's year, computed once."""
    return ind.evolution(ctx.cafdata, ctx.year)


@once
def annee(ctx: Context) -> ind.PortraitYear:
    y = ind.portrait_year(ctx.cafdata, ctx.reference, ctx.year)
    assert y is not None  # checked when the context was opened
    return y


@once
def valeurs(ctx: Context) -> dict[str, str]:
    """The chapter's values, each with what it was computed from: the share without children with the
    family extract, the others with Cafdata and the populations."""
    with lineage.recording() as reads:
        totals(ctx.cafdata, ctx.year), totals(ctx.cafdata, ctx.year - 1), ctx.reference.epci_year(ctx.year)
    with lineage.recording() as family:
        ind.share_without_children(ctx.cafdata, ctx.year)
    v = _valeurs(ctx)
    fam = {k: x for k, x in v.items() if k.startswith("sans_enfant")}
    return lineage.Valeurs({**ctx.tagged({k: x for k, x in v.items() if k not in fam}, reads),
                            **ctx.tagged(fam, family)})


def _valeurs(ctx: Context) -> dict[str, str]:
    y = annee(ctx)
    t, prev = y.totals, y.previous
    v = ctx.base_values()
    v.update({
        "foyers": fmt.nombre(t.foyers),
        "personnes": fmt.nombre(t.personnes),
        "part_habitants_couverts": fmt.pourcent(y.part_habitants_couverts),
        "population": fmt.nombre(y.population),
        "annee_population": str(y.population_year),
        "millesime_population": str(y.population_year - 3),
        "source_totaux": "somme des communes (effectifs arrondis à 5)" if t.rounded else "fichier départemental",
        "communes_sommees": fmt.nombre(t.n_rows),
    })
    if prev is not None:
        v["foyers_var"] = fmt.variation(t.foyers / prev.foyers - 1, 1, pourcentage=True)
        v["foyers_var_abs"] = fmt.variation(t.foyers - prev.foyers)
        v["personnes_var"] = fmt.variation(t.personnes / prev.personnes - 1, 1, pourcentage=True)
        v["personnes_var_abs"] = fmt.variation(t.personnes - prev.personnes)
    else:
        for k in ("foyers_var", "foyers_var_abs", "personnes_var", "personnes_var_abs"):
            v[k] = "n.d."
    # "(−0,7 % en un an)", or nothing when the previous December is not in the data
    v["foyers_evol"] = f" ({v['foyers_var']} en un an)" if prev is not None else ""
    if y.share_without_children is not None:
        v["sans_enfant"] = fmt.pourcent(y.share_without_children)
        # an illustrative extract never feeds an evolution
        has_prev = y.share_without_children_previous is not None and not famille_illustrative(ctx)
        v["sans_enfant_var"] = (fmt.points(y.share_without_children - y.share_without_children_previous)
                                if has_prev else "n.d.")
        v["sans_enfant_evol"] = f" ({v['sans_enfant_var']} en un an)" if has_prev else ""
    # the published figures are compared in Annexe 2 only when the edition's file gives some
    v["renvoi_publies"] = " (voir l’annexe 2)" if ctx.p.published else ""
    share = y.part_habitants_couverts
    if y.population:
        words = ind.couverture_mots(share)
        v["phrase_couverture"] = (
            (f", c’est-à-dire {words} du département" if words else "")
            + f" ({v['part_habitants_couverts']} de ses {v['population']} habitants, population municipale en vigueur en "
              f"{v['annee_population']}{millesime_note(ctx, y.population_year)})")
    else:
        v["phrase_couverture"] = " (la population légale du département n’est pas disponible dans les données de référence)"
    return v


def portrait_social(ctx: Context) -> tuple[str, dict, tuple[str, str] | None] | None:
    """The Caf's Portrait social, told only from the département's register of events: the paragraph when
    the Caf publishes one (a row of type « portrait_social »), the link to the edition that portrays the
    report's December when the register holds it; None for a département without such a row."""
    if ctx.registers is None:
        return None
    with lineage.recording() as reads:
        rows = ctx.registers.lignes("evenements", lambda f: f.type == "portrait_social")
    if rows.empty:
        return None
    template = ("En tant qu’acteur local de l’observation économique et sociale, la {caf} publie chaque année, en "
                "complément du présent rapport d’activité, son **portrait social**{mention}.\n\n"
                "Le « Portrait social », élaboré à partir de données définitives issues des fichiers allocataires, "
                "consolidés six mois après la date d’observation, donne une photographie de la population "
                "allocataire en décembre de l’année précédant la publication.")
    mine = rows[rows.date.dt.year == ctx.year]
    values = {"caf": ctx.p.caf_name, "mention": lineage.Valeur("", reads)}
    if mine.empty:
        return template, values, None
    r = mine.iloc[0]
    return template, values, (r.url, f"Consulter le Portrait social – édition {r.edition}")


def millesime_note(ctx: Context, used: int) -> str:
    """What the population used is when the one in force in the report's year is not shipped."""
    if used == ctx.year:
        return ""
    return (f", la plus récente des données de référence du projet pour ce département : celle en vigueur en "
            f"{ctx.year} n’y figure pas")


def famille_illustrative(ctx: Context) -> bool:
    f = ctx.cafdata.family
    return bool(f is not None and (f.illustrative or ctx.cafdata.illustrative))


def chiffres_cles(ctx: Context) -> list[tuple]:
    v = valeurs(ctx)
    y = annee(ctx)
    has_prev = y.previous is not None
    # each value carries its lineage (valeurs): the page marks a key figure computed from illustrative data
    how = " ; somme des communes" if y.totals.rounded else ""
    items = [
        (v["foyers"], "foyers allocataires", (f"{v['foyers_var']} en un an" if has_prev else "") + how),
        (v["personnes"], "personnes couvertes", (f"{v['personnes_var']} en un an" if has_prev else "") + how),
    ]
    if y.population:
        items.append((v["part_habitants_couverts"], "des habitants couverts par la Caf",
                      f"population municipale {v['annee_population']}"))
    if y.share_without_children is not None:
        items.append((v["sans_enfant"], "des foyers allocataires sans enfant",
                      f"{v['sans_enfant_var']} en un an" if v["sans_enfant_evol"] else "extrait interne de la Caf"))
    return items


def kept_values(ctx: Context) -> dict[str, float]:
    """Raw computed figures, for the annex of published figures."""
    y = annee(ctx)
    out = {"foyers_allocataires": float(y.totals.foyers), "personnes_couvertes": float(y.totals.personnes)}
    if y.population:
        out["part_habitants_caf"] = y.part_habitants_couverts
    if y.share_without_children is not None:
        out["part_sans_enfant"] = y.share_without_children
    return out


def illustrative_keys(ctx: Context) -> set[str]:
    """The kept values computed from illustrative inputs: reproduced by construction, not checked."""
    keys = set(kept_values(ctx)) if ctx.cafdata.illustrative else set()
    if famille_illustrative(ctx):
        keys.add("part_sans_enfant")
    return keys


def gap_notes(ctx: Context) -> dict[str, str]:
    """What the data say about the gap between a computed and a published figure."""
    t = annee(ctx).totals
    if not t.rounded or ctx.cafdata.illustrative:
        return _with_warnings(ctx, {})
    bound = t.rounding_bound
    note = (f"somme de {fmt.nombre(t.n_rows)} communes dont chaque effectif est arrondi à 5 : l’arrondi peut "
            f"écarter la somme de {fmt.nombre(bound)} au plus")
    published = ctx.p.published
    out = {}
    for key, value in (("foyers_allocataires", t.foyers), ("personnes_couvertes", t.personnes)):
        if key not in published:
            out[key] = note + "."
            continue
        gap = abs(value - published[key])
        out[key] = note + (" ; l’écart tient dans cette marge." if gap <= bound else
                           " ; l’écart la dépasse : les données ouvertes ne permettent pas d’en établir la cause.")
    return _with_warnings(ctx, out)


def _with_warnings(ctx: Context, notes: dict[str, str]) -> dict[str, str]:
    """The notes with what the checks of the data found (a commune missing, a total that jumps): said, never
    explained by a guessed cause."""
    if not ctx.warnings:
        return notes
    from helpers.report.annexes import public_text

    said = " ".join(f"Attention : {public_text(w)}." for w in ctx.warnings)
    return {key: f"{notes.get(key, '')} {said}".strip() for key in ("foyers_allocataires", "personnes_couvertes")}


@sourced
def figure_evolution(ctx: Context):
    return evolution_figure(evolution(ctx), ctx.year)


def evolution_figure(df, year: int):
    """Foyers and personnes by December, with its alt text (the département's, or an EPCI's)."""
    fig = charts.evolution(df, year)
    first, last = df.iloc[0], df.iloc[-1]
    alt = (f"Deux courbes, de décembre {int(first.annee)} à décembre {int(last.annee)}. Foyers allocataires : "
           f"{fmt.nombre(first.foyers)} en {int(first.annee)}, {fmt.nombre(last.foyers)} en {int(last.annee)}. "
           f"Personnes couvertes : {fmt.nombre(first.personnes)} puis {fmt.nombre(last.personnes)}.")
    return fig, alt


@sourced
def tableau_evolution(ctx: Context):
    df = evolution(ctx)
    out = pd.DataFrame({
        "Décembre": df.annee.astype(str),
        "Foyers allocataires": df.foyers.map(fmt.nombre),
        "Évolution annuelle": (df.foyers / df.foyers.shift() - 1).map(lambda x: fmt.variation(x, 1, True)),
        "Personnes couvertes": df.personnes.map(fmt.nombre),
    })
    out.loc[0, "Évolution annuelle"] = "–"
    resume = f"{len(df)} années, de {int(df.annee.min())} à {int(df.annee.max())}."
    return out, resume


@once
def totaux(ctx: Context, year: int):
    """The département's totals of December `year` alone (what the benefits figure reads)."""
    return totals(ctx.cafdata, year)


@sourced
def prestations(ctx: Context):
    b = ind.benefit_groups(totaux(ctx, ctx.year), totaux(ctx, ctx.year - 1)).sort_values("foyers", ascending=False)
    fig = charts.barh(b.groupe, b.foyers, xlabel="foyers allocataires")
    alt = "Barres horizontales : " + " ; ".join(
        f"{g} {fmt.nombre(n)} foyers ({fmt.pourcent(p)})" for g, n, p in zip(b.groupe, b.foyers, b.part)) + "."
    table = pd.DataFrame({
        "Prestation": b.groupe,
        "Foyers bénéficiaires": b.foyers.map(fmt.nombre),
        "Part des allocataires": b.part.map(fmt.pourcent),
        "Évolution en un\u00a0an": b.variation.map(lambda x: fmt.variation(x, 1, True)),
    })
    resume = (f"Foyers bénéficiaires de chaque groupe de prestations en décembre {ctx.year} ; un foyer peut "
              "percevoir plusieurs prestations, les parts ne s’additionnent pas.")
    return fig, alt, table, resume


def prestations_absentes(ctx: Context) -> str:
    """Groups of benefits the data do not have (e.g. the AAH in the commune file), as a sentence."""
    from helpers.data.cafdata import BENEFIT_GROUPS
    present = set(ind.benefit_groups(annee(ctx).totals, None).groupe)
    missing = [label for label, _ in BENEFIT_GROUPS if label not in present]
    if not missing:
        return ""
    return ("Les fichiers Cafdata utilisés ne détaillent pas : " + ", ".join(m.lower() if i else m
                                                                             for i, m in enumerate(missing)) + ".")


@sourced
def configuration(ctx: Context):
    """Shares of foyers by family configuration (shares, not counts: an illustrative extract
    must not be read against the real totals)."""
    t = ind.family_table(ctx.cafdata, ctx.year)
    if t is None:
        return None
    shares = t / t.values.sum()
    fig = charts.stacked_family(shares)
    alt = "Barres empilées par configuration familiale, en part des foyers allocataires : " + " ; ".join(
        f"{charts.FAMILY_LABELS.get(conf, conf)} {fmt.pourcent(shares.loc[conf].sum())}, dont "
        f"{fmt.pourcent(shares.loc[conf].get('0', 0))} sans enfant" for conf in shares.index) + "."
    return fig, alt, famille_illustrative(ctx)


# ---------------------------------------------------------------- AF and CF against the region and France

TERRITORY_ORDER = ["departement", "region", "france"]


@once
def af_cf(ctx: Context):
    """Index (first December = 100) of the foyers receiving the AF and the CF, for the
    département, its region and France; None when the series are absent."""
    s = ctx.series
    if s is None:
        return None
    years = [y for y in s.years() if y <= ctx.year]
    if len(years) < 2:
        return None
    df = ind.index_series(s, years[0], years[-1])
    row = departement_row(ctx.p.departement, ctx.p.reference_dir)
    names = {"departement": row["nom"] if row else f"département {ctx.p.departement}",
             "region": s.region_name, "france": "France"}
    return df, names, years[0], years[-1]


@sourced
def figure_af_cf(ctx: Context):
    res = af_cf(ctx)
    if res is None:
        return None
    df, names, first, last = res
    fig = charts.index_panels(df, names, TERRITORY_ORDER, ind_series.BENEFIT_NAMES, first)
    parts = []
    for b in ("AF", "CF"):
        end = df[(df.prestation == b) & (df.annee == last)].set_index("territoire").indice
        parts.append(f"{ind_series.BENEFIT_NAMES[b]} : " + ", ".join(
            f"{names[t]} {fmt.nombre(end[t], 1)}" for t in TERRITORY_ORDER if t in end))
    alt = (f"Deux graphiques en indice, base 100 en décembre {first}, jusqu’en décembre {last}. Indice en {last} — "
           + " ; ".join(parts) + ".")
    return fig, alt


@sourced
def tableau_af_cf(ctx: Context):
    res = af_cf(ctx)
    if res is None:
        return None
    df, names, first, last = res
    rows = []
    for b in ("AF", "CF"):
        for t in TERRITORY_ORDER:
            part = df[(df.prestation == b) & (df.territoire == t)].set_index("annee")
            if part.empty:
                continue
            rows.append({"Prestation": ind_series.BENEFIT_NAMES[b].capitalize(), "Territoire": names[t],
                         f"Foyers, déc. {first}": fmt.nombre(part.foyers[first]),
                         f"Foyers, déc. {last}": fmt.nombre(part.foyers[last]),
                         "Évolution": fmt.variation(part.foyers[last] / part.foyers[first] - 1, 1, True)})
    d = df[(df.territoire == "departement")].set_index(["prestation", "annee"]).foyers
    resume = (f"De décembre {first} à décembre {last}, les foyers percevant les allocations familiales passent de "
              f"{fmt.nombre(d['AF', first])} à {fmt.nombre(d['AF', last])} dans le département, ceux percevant le "
              f"complément familial de {fmt.nombre(d['CF', first])} à {fmt.nombre(d['CF', last])}.")
    return pd.DataFrame(rows), resume


@sourced
@once
def tableau_epci(ctx: Context):
    df = ind.coverage_by_epci(ctx.cafdata, ctx.reference, ctx.year)
    if df.empty:
        return None
    out = pd.DataFrame({
        "EPCI": df.nom,
        "Foyers allocataires": df.indfoy_ndur.map(fmt.nombre),
        "Personnes couvertes": df.indnbp_ndur.map(fmt.nombre),
        "Population municipale": df.population_municipale.map(fmt.nombre),
        "Part des habitants couverts": df.part_habitants_couverts.map(fmt.pourcent),
    })
    foy, pers, pop = df.indfoy_ndur.sum(), df.indnbp_ndur.sum(), df.population_municipale.sum()
    if len(df) == 1:  # Paris: one EPCI, no total row and no ranking
        only = df.iloc[0]
        return out, f"Un seul EPCI : {only.nom} ({fmt.pourcent(only.part_habitants_couverts)}).", df
    out.loc[len(out)] = [f"Ensemble des {len(df)} EPCI", fmt.nombre(foy), fmt.nombre(pers), fmt.nombre(pop),
                         fmt.pourcent(pers / pop if pop else float("nan"))]
    hi, lo = df.iloc[0], df.iloc[-1]
    resume = (f"Part des habitants couverts la plus élevée : {hi.nom} ({fmt.pourcent(hi.part_habitants_couverts)}) ; "
              f"la plus basse : {lo.nom} ({fmt.pourcent(lo.part_habitants_couverts)}) ; ensemble des EPCI : "
              f"{fmt.pourcent(pers / pop if pop else float('nan'))}.")
    return out, resume, df


def note_epci(ctx: Context) -> str:
    """What the total row of the EPCI table is, against the département's headline figures."""
    t = tableau_epci(ctx)
    if t is None:
        return ""
    _, _, df = t
    tot = annee(ctx).totals
    foy, pers = df.indfoy_ndur.sum(), df.indnbp_ndur.sum()
    origine = "des EPCI (fichier intercommunal)" if ctx.cafdata.epci is not None else "de leurs communes"
    head = f"Note : la ligne « Ensemble des {len(df)} EPCI » est la somme des lignes du tableau, chacune somme {origine}"
    debord = "".join(f" {n}" for n in ctx.notes_hors_departement())
    if len(df) == 1:
        return f"Note :{debord}" if debord else ""
    if foy == tot.foyers and pers == tot.personnes:
        return (f"{head} ; elle est égale aux chiffres du département ({fmt.nombre(tot.foyers)} foyers "
                f"allocataires, {fmt.nombre(tot.personnes)} personnes couvertes).{debord}")
    dep = "fichier départemental" if tot.source == "s_ben_dep" else "somme des communes"
    ecart = lambda a, b: fmt.variation(a - b)  # noqa: E731
    return (f"{head} ; elle s’écarte des chiffres du département ({fmt.nombre(tot.foyers)} foyers allocataires, "
            f"{fmt.nombre(tot.personnes)} personnes couvertes, {dep}) de {ecart(foy, tot.foyers)} foyers et "
            f"{ecart(pers, tot.personnes)} personnes : chaque fichier de Cafdata arrondit ses effectifs à 5 "
            "(secret statistique), et la somme de chiffres arrondis n’est pas l’arrondi de leur somme." + debord)


def extrait_absent(ctx: Context) -> str | None:
    """One line when the Caf's internal extract (family configurations) is not there, else None."""
    if ctx.cafdata.family is not None:
        return None
    folder = Path(ctx.p.extraits_dir or "data/extraits") / ctx.p.departement
    return (f"L’extrait interne de la {ctx.p.caf_name} sur les configurations familiales (« "
            f"{display_path(folder / f'configuration_familiale_{ctx.p.departement}.csv')} ») n’est pas fourni : la "
            "composition des familles et la part des foyers sans enfant ne sont pas présentées.")


SMALL_COMMUNE = ind_territoire.SMALL_COMMUNE


@once
def _communes_rates(ctx: Context):
    """Commune outlines with their coverage rate (None when boundaries or populations lack)."""
    if ctx.geo is None or not ctx.geo.communes_files:
        return None
    pops = ctx.geo.commune_populations(ctx.year)
    if pops is None:
        return None
    com = communes_year(ctx.cafdata, ctx.reference, ctx.year)
    if com.empty or "indnbp_ndur" not in com:  # no commune file (a département-level export only): no map
        return None
    shapes = ctx.geo.communes(ctx.year + 1)[["code", "geometry"]]
    g = shapes.merge(pops[["code", "population"]], on="code", how="left")
    # Data already on a later geography (a commune merged since): merge the outlines and populations alike.
    have = set(com.code)
    later = ctx.reference.fusions[ctx.reference.fusions.code_ancien.isin(set(g.code) - have)
                                  & ctx.reference.fusions.code_nouveau.isin(have)]
    if not later.empty:
        g["code"] = g.code.replace(dict(zip(later.code_ancien, later.code_nouveau)))
        g = g.dissolve(by="code", aggfunc={"population": "sum"}).reset_index()
    g = g.merge(com[["code", "indnbp_ndur"]], on="code", how="left")
    g["part_habitants_couverts"] = ind_territoire.part_commune(g.indnbp_ndur, g.population)
    return g


@once
def _bounds(ctx: Context):
    """Class limits shared by the EPCI and commune maps (quantiles of the communes)."""
    g = _communes_rates(ctx)
    return None if g is None or g.part_habitants_couverts.notna().sum() < 10 else charts.class_bounds(g.part_habitants_couverts.dropna())


@sourced
def carte_epci(ctx: Context):
    t = tableau_epci(ctx)
    if t is None:
        return None
    _, _, df = t
    if df.part_habitants_couverts.nunique() < 2:  # one territory (Paris): a map compares nothing
        return None
    g = ctx.epci_outlines(df[["siren", "nom", "part_habitants_couverts"]])
    if g is None:
        return None
    fig = charts.choropleth(g, "part_habitants_couverts", "Personnes couvertes / population", names="nom",
                            bounds=_bounds(ctx))
    hi, lo = df.iloc[0], df.iloc[-1]
    alt = (f"Carte des {len(df)} EPCI colorés selon la part des habitants couverts par la Caf, de {fmt.pourcent(lo.part_habitants_couverts)} "
           f"({lo.nom}) à {fmt.pourcent(hi.part_habitants_couverts)} ({hi.nom}).")
    return fig, alt


@sourced
def carte_communes(ctx: Context):
    g = _communes_rates(ctx)
    if g is None or g.part_habitants_couverts.nunique() < 2:  # one commune (Paris): a map compares nothing
        return None
    outline = ctx.epci_outlines(ctx.reference.epci_names(ctx.year)[["siren", "nom"]])
    if outline is not None:
        outline["nom"] = outline.nom.fillna(outline.siren)
    fig = charts.choropleth(g, "part_habitants_couverts", "Personnes couvertes / population", outline=outline,
                            outline_names="nom" if outline is not None else None, bounds=_bounds(ctx),
                            missing_label=f"sans donnée ou moins de {fmt.nombre(SMALL_COMMUNE)} habitants")
    known = g.dropna(subset=["part_habitants_couverts"])
    alt = (f"Carte des {len(g)} communes colorées selon la part des habitants couverts par la Caf, "
           f"médiane {fmt.pourcent(known.part_habitants_couverts.median())}, de {fmt.pourcent(known.part_habitants_couverts.min())} à "
           f"{fmt.pourcent(known.part_habitants_couverts.max())} ; {len(g) - len(known)} communes sans donnée ou de moins de "
           f"{fmt.nombre(SMALL_COMMUNE)} habitants.")
    return fig, alt


# ---------------------------------------------------------------- commentary computed from each table

def _sens(x: float) -> str:
    """« hausse », « baisse » or « stable » for a relative change already rounded to 0,1 %."""
    if round(100 * x, 1) == 0:
        return "stable"
    return "hausse" if x > 0 else "baisse"


# A benefit group's label inside a sentence, with its article (« le », « de »): data/cafdata.py BENEFIT_GROUPS
_LE = {"Aides au logement": "les aides au logement", "Revenu de solidarité active": "le revenu de solidarité active",
       "Prime d’activité": "la prime d’activité", "Allocations familiales": "les allocations familiales",
       "Petite enfance (Paje)": "les prestations petite enfance (Paje)",
       "Handicap (AAH)": "l’allocation aux adultes handicapés (AAH)"}
_DE = {"Aides au logement": "des aides au logement", "Revenu de solidarité active": "du revenu de solidarité active",
       "Prime d’activité": "de la prime d’activité", "Allocations familiales": "des allocations familiales",
       "Petite enfance (Paje)": "des prestations petite enfance (Paje)",
       "Handicap (AAH)": "de l’allocation aux adultes handicapés (AAH)"}


def _minuscule(label: str) -> str:
    """A label inside a sentence (« Petite enfance (Paje) » -> « petite enfance (Paje) »)."""
    return label[:1].lower() + label[1:]


def commentaire_evolution(ctx: Context) -> tuple[str, dict] | None:
    """After the yearly table: the change over the whole period and the largest yearly change (none for the
    demonstration set, whose evolutions are not real)."""
    if ctx.cafdata.illustrative:
        return None
    with lineage.recording() as reads:
        df = evolution(ctx)
    if len(df) < 2:
        return None
    first, last = df.iloc[0], df.iloc[-1]
    v = {"debut": str(int(first.annee)), "fin": str(int(last.annee))}
    total = last.foyers / first.foyers - 1 if first.foyers else float("nan")
    if round(100 * total, 1) == 0:
        v["bilan"] = "le nombre de foyers allocataires est stable"
    else:
        v["bilan"] = (f"le nombre de foyers allocataires {'augmente' if total > 0 else 'diminue'} de "
                      f"{fmt.nombre(abs(100 * total), 1)}{fmt.NNBSP}% ({fmt.variation(last.foyers - first.foyers)} "
                      "foyers)")
    pers = last.personnes / first.personnes - 1 if first.personnes else float("nan")
    v["personnes"] = ("celui des personnes couvertes est stable" if round(100 * pers, 1) == 0 else
                      f"celui des personnes couvertes {'augmente' if pers > 0 else 'diminue'} de "
                      f"{fmt.nombre(abs(100 * pers), 1)}{fmt.NNBSP}%")
    template = "De décembre {debut} à décembre {fin}, {bilan} ; {personnes}."
    if len(df) >= 3:
        yearly = (df.foyers / df.foyers.shift() - 1).iloc[1:]
        i = yearly.abs().idxmax()
        v["annee_max"], v["variation_max"] = str(int(df.annee[i])), fmt.variation(yearly[i], 1, True)
        template += " La variation annuelle la plus marquée est celle de {annee_max} ({variation_max} de foyers)."
    return template, ctx.tagged(v, reads)


def _compare(dep: float, other: float, name: str) -> str:
    """The département's change beside another territory's, in words that hold for both signs."""
    d, o = round(100 * dep, 1), round(100 * other, 1)
    if (d > 0 > o) or (d < 0 < o):
        return (f"{fmt.variation(dep, 1, True)} dans le département, alors que {name} est en "
                f"{_sens(other)} ({fmt.variation(other, 1, True)})")
    if abs(d - o) < 0.5:
        return (f"{fmt.variation(dep, 1, True)} dans le département, une évolution proche de celle de {name} "
                f"({fmt.variation(other, 1, True)})")
    stronger = abs(d) > abs(o)
    word = ("hausse" if d > 0 else "baisse") if d else "évolution"
    return (f"{fmt.variation(dep, 1, True)} dans le département, une {word} "
            f"{'plus' if stronger else 'moins'} marquée qu’en {name.removeprefix('la ')} "
            f"({fmt.variation(other, 1, True)})")


def commentaire_af_cf(ctx: Context) -> tuple[str, dict] | None:
    """After the AF/CF table: each benefit's change over the period in the département against France
    and the region."""
    res = af_cf(ctx)
    if res is None:
        return None
    with lineage.recording() as reads:
        df, names, first, last = af_cf(ctx)
        ind.index_series(ctx.series, first, last)  # the read, for the marks
    parts = []
    for b in ("AF", "CF"):
        end = df[(df.prestation == b) & (df.annee == last)].set_index("territoire").indice
        if "departement" not in end or "france" not in end:
            continue
        dep, fr = end["departement"] / 100 - 1, end["france"] / 100 - 1
        text = f"{ind_series.BENEFIT_NAMES[b]} : {_compare(dep, fr, 'la France')}"
        if "region" in end:
            text += f" ; {fmt.variation(end['region'] / 100 - 1, 1, True)} en {names['region']}"
        parts.append(text)
    if not parts:
        return None
    v = {"debut": str(first), "fin": str(last), "detail": " ; ".join(parts)}
    return "De décembre {debut} à décembre {fin}, foyers bénéficiaires des {detail}.", ctx.tagged(v, reads)


def plus_repandues(ctx: Context) -> tuple[str, dict] | None:
    """The most common benefit groups of the year, by share of the foyers (a sentence computed from the
    benefits table, not typed)."""
    with lineage.recording() as reads:
        b = ind.benefit_groups(totaux(ctx, ctx.year), None)
    b = b.dropna(subset=["part"]).sort_values("foyers", ascending=False)
    if b.empty:
        return None
    top = b.head(3)
    items = [f"{_LE.get(g, _minuscule(g))} ({fmt.pourcent(p)}{' des foyers allocataires' if i == 0 else ''})"
             for i, (g, p) in enumerate(zip(top.groupe, top.part))]
    v = {"annee": str(ctx.year), "liste": fmt.liste(items)}
    template = ("Un même foyer peut percevoir plusieurs prestations. En décembre {annee}, "
                + ("la prestation la plus répandue est {liste}." if len(items) == 1 else
                   "les prestations les plus répandues sont {liste}."))
    return template, ctx.tagged(v, reads)


@sourced
def comparaison_prestations(ctx: Context):
    """Each benefit group's change in one year, in the département beside its region and France where the
    shipped series give them (AF: the three from the département series af_s_majo_dep; RSA, prime d'activité,
    aides au logement: France from s_ben_nat). None without series, for the demonstration set, or when no
    group has a comparison."""
    s = ctx.series
    if s is None or ctx.cafdata.illustrative:
        return None
    prev = totaux(ctx, ctx.year - 1)
    if prev is None:
        return None
    b = ind.benefit_groups(totaux(ctx, ctx.year), prev).sort_values("foyers", ascending=False)
    row = departement_row(ctx.p.departement, ctx.p.reference_dir)
    dep_name = row["nom"] if row else f"département {ctx.p.departement}"
    rows, facts, none, af_compared = [], [], [], False
    af = s.between(ctx.year - 1, ctx.year) if "Allocations familiales" in set(b.groupe) else None
    for r in b.itertuples():
        dep, reg, fr = r.variation, float("nan"), float("nan")
        if r.groupe == "Allocations familiales" and af is not None:
            x = af[af.prestation == "AF"].set_index(["territoire", "annee"]).foyers
            get = lambda t: (x[t, ctx.year] / x[t, ctx.year - 1] - 1) if (t, ctx.year) in x and (t, ctx.year - 1) in x else float("nan")  # noqa: E731
            if pd.notna(get("departement")):  # else the series stop before the year: no comparison
                dep, reg, fr = get("departement"), get("region"), get("france")
                af_compared = True
        elif r.groupe in ind_series.NATIONAL_SERIES.values():
            a, z = s.france(r.groupe, ctx.year), s.france(r.groupe, ctx.year - 1)
            fr = a / z - 1 if a and z else float("nan")
        if pd.isna(fr) and pd.isna(reg):
            none.append(r.groupe)
        else:
            facts.append((r.groupe, dep, reg, fr))
        rows.append({"Prestation": r.groupe, dep_name: fmt.variation(dep, 1, True),
                     s.region_name: "–" if pd.isna(reg) else fmt.variation(reg, 1, True),
                     "France": "–" if pd.isna(fr) else fmt.variation(fr, 1, True)})
    if not facts:
        return None
    table = pd.DataFrame(rows)
    resume = (f"Évolution du nombre de foyers bénéficiaires entre décembre {ctx.year - 1} et décembre {ctx.year}. "
              + ("Allocations familiales : les trois territoires d’après la série départementale de Cafdata ; autres "
                 "prestations : " if af_compared else "")
              + "département d’après ses fichiers Cafdata, France d’après la série nationale. « – » : "
              "pas de série pour ce territoire dans les données du projet (aucune série régionale hors allocations "
              "familiales)" + (f", ni nationale pour : {fmt.liste([_minuscule(n) for n in none])}" if none else "") + ".")
    return table, resume, facts


def commentaire_prestations(ctx: Context) -> tuple[str, dict] | None:
    """After the comparison table: the benefit whose change departs most from France's."""
    with lineage.recording() as reads:
        res = comparaison_prestations(ctx)
    if res is None:
        return None
    _, _, facts = res
    known = [(g, d, r, f) for g, d, r, f in facts if pd.notna(f) and pd.notna(d)]
    if not known:
        return None
    g, d, r, f = max(known, key=lambda t: abs(t[1] - t[3]))
    v = {"groupe": _DE.get(g, _minuscule(g)), "annee": str(ctx.year), "comparaison": _compare(d, f, "la France")}
    template = "En un an, l’évolution qui s’écarte le plus de celle de la France est celle {groupe} : {comparaison}."
    if len(known) > 1:
        close = [_DE.get(k[0], _minuscule(k[0])) for k in known if k[0] != g and abs(round(100 * k[1], 1) - round(100 * k[3], 1)) < 0.5]
        if close:
            v["proches"] = fmt.liste(close)
            template += " L’évolution {proches} est proche de celle de la France."
    return template, ctx.tagged(v, reads)


def commentaire_epci(ctx: Context) -> tuple[str, dict] | None:
    """After the EPCI table: the range of the share of inhabitants covered, in points, and how many EPCI
    are above the share of the EPCI taken together (a rate of the whole, not a mean of the EPCI)."""
    with lineage.recording() as reads:
        t = tableau_epci(ctx)
    if t is None:
        return None
    _, _, df = t
    df = df.dropna(subset=["part_habitants_couverts"])
    if len(df) < 2:
        return None
    pop = df.population_municipale.sum()
    whole = df.indnbp_ndur.sum() / pop if pop else float("nan")
    hi, lo = df.loc[df.part_habitants_couverts.idxmax()], df.loc[df.part_habitants_couverts.idxmin()]
    above = int((df.part_habitants_couverts.map(lambda x: round(100 * x)) > round(100 * whole)).sum())
    v = {"max": fmt.pourcent(hi.part_habitants_couverts), "max_nom": fmt.nom_court(hi.nom),
         "min": fmt.pourcent(lo.part_habitants_couverts), "min_nom": fmt.nom_court(lo.nom), "ecart": fmt.nombre(round(100 * hi.part_habitants_couverts) - round(100 * lo.part_habitants_couverts)),
         "ensemble": fmt.pourcent(whole), "n": fmt.nombre(len(df)),
         "au_dessus": ("aucun EPCI ne dépasse" if above == 0 else
                       f"{'un seul' if above == 1 else fmt.nombre(above)} des {fmt.nombre(len(df))} EPCI "
                       f"{'dépasse' if above == 1 else 'dépassent'}")}
    points = "point" if abs(round(100 * hi.part_habitants_couverts) - round(100 * lo.part_habitants_couverts)) < 2 else "points"
    template = ("La part des habitants couverts va de {min} ({min_nom}) à {max} ({max_nom}), soit un écart de "
                "{ecart} " + points + " ; {au_dessus} celle de l’ensemble des EPCI ({ensemble}).")
    return template, ctx.tagged(v, reads)


def commentaire_communes(ctx: Context) -> tuple[str, dict] | None:
    """After the commune map: the spread of the share among communes large enough for it to mean something
    (quartiles), and the number of communes left out."""
    with lineage.recording() as reads:
        g = _communes_rates(ctx)
    if g is None:
        return None
    known = g.part_habitants_couverts.dropna()
    if len(known) < 8:
        return None
    q1, med, q3 = known.quantile([0.25, 0.5, 0.75])
    v = {"n": fmt.nombre(len(known)), "seuil": fmt.nombre(SMALL_COMMUNE), "q1": fmt.pourcent(q1),
         "mediane": fmt.pourcent(med), "q3": fmt.pourcent(q3)}
    template = ("Parmi les {n} communes d’au moins {seuil} habitants, la part des habitants couverts est "
                "inférieure à {q1} dans un quart d’entre elles et supérieure à {q3} dans un autre quart ; la part "
                "médiane est de {mediane}.")
    return template, ctx.tagged(v, reads)
