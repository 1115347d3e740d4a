"""Portrait chapter: values, figures and tables computed from Cafdata and the references."""
from __future__ import annotations

import pandas as pd

from . import charts, fmt
from . import indicators as ind
from .cafdata import communes_year
from .contexte import Contexte


def annee(ctx: Contexte) -> ind.PortraitYear:
    y = ind.portrait_year(ctx.cafdata, ctx.reference, ctx.year)
    assert y is not None  # checked when the context was opened
    return y


def source_cafdata(ctx: Contexte, datasets: str | None = None, periode: str | None = None) -> str:
    """Source line; by default the dataset the département totals come from, December of the year."""
    d = ctx.cafdata
    names = datasets or annee(ctx).totals.source
    demo = " (jeu de démonstration, chiffres illustratifs)" if d.illustrative else ""
    return ctx.source(f"Cnaf, Cafdata {names}, {periode or f'décembre {ctx.year}'}{demo}")


def source_evolution(ctx: Contexte) -> str:
    df = ind.evolution(ctx.cafdata, ctx.year)
    names = ", ".join(sorted(df.source.unique()))
    return source_cafdata(ctx, names, f"décembre {int(df.annee.min())} à décembre {int(df.annee.max())}")


def valeurs(ctx: Contexte) -> dict[str, str]:
    y = annee(ctx)
    t, prev = y.totals, y.previous
    v = ctx.base_values()
    v.update({
        "foyers": fmt.nombre(t.foyers),
        "personnes": fmt.nombre(t.personnes),
        "part_habitants": fmt.pourcent(y.share_covered),
        "population": fmt.nombre(y.population),
        "annee_population": str(y.population_year),
        "millesime_population": str(y.population_year - 3),
        "source_totaux": "somme des communes (effectifs arrondis à 5)" if t.rounded else "fichier départemental",
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
        v["sans_enfant_var"] = (fmt.points(y.share_without_children - y.share_without_children_previous)
                                if y.share_without_children_previous is not None else "n.d.")
        v["sans_enfant_evol"] = (f" ({v['sans_enfant_var']} en un an)"
                                 if y.share_without_children_previous is not None else "")
    share = y.share_covered
    if y.population:
        words = ("un peu moins de la moitié" if 0.45 <= share < 0.5 else
                 "plus de quatre habitants sur dix" if 0.4 <= share < 0.45 else
                 "un peu plus de la moitié" if 0.5 <= share < 0.6 else
                 "plus de trois habitants sur dix" if 0.3 <= share < 0.4 else None)
        v["phrase_couverture"] = (
            (f", c’est-à-dire {words} du département" if words and "habitants" in words else
             f", c’est-à-dire {words} des habitants du département" if words else "")
            + f" ({v['part_habitants']} de ses {v['population']} habitants, population municipale en vigueur en "
              f"{v['annee_population']})")
    else:
        v["phrase_couverture"] = " (la population légale du département n’est pas disponible dans les données de référence)"
    return v


def chiffres_cles(ctx: Contexte) -> list[tuple[str, str, str]]:
    v = valeurs(ctx)
    y = annee(ctx)
    has_prev = y.previous is not None
    items = [
        (v["foyers"], "foyers allocataires", f"{v['foyers_var']} en un an" if has_prev else ""),
        (v["personnes"], "personnes couvertes", f"{v['personnes_var']} en un an" if has_prev else ""),
    ]
    if y.population:
        items.append((v["part_habitants"], "des habitants couverts par la Caf",
                      f"population municipale {v['annee_population']}"))
    if y.share_without_children is not None:
        items.append((v["sans_enfant"], "des allocataires sans enfant",
                      f"{v['sans_enfant_var']} en un an" if y.share_without_children_previous is not None else ""))
    return items


def kept_values(ctx: Contexte) -> dict[str, float]:
    """Raw computed figures, for the annex of published figures."""
    y = annee(ctx)
    out = {"foyers_allocataires": float(y.totals.foyers), "personnes_couvertes": float(y.totals.personnes)}
    if y.share_without_children is not None:
        out["part_sans_enfant"] = y.share_without_children
    return out


def figure_evolution(ctx: Contexte):
    df = ind.evolution(ctx.cafdata, ctx.year)
    fig = charts.evolution(df, ctx.year)
    first, last = df.iloc[0], df.iloc[-1]
    alt = (f"Deux courbes, de décembre {int(first.annee)} à décembre {int(last.annee)}. Foyers allocataires : "
           f"{fmt.nombre(first.foyers)} en {int(first.annee)}, {fmt.nombre(last.foyers)} en {int(last.annee)}. "
           f"Personnes couvertes : {fmt.nombre(first.personnes)} puis {fmt.nombre(last.personnes)}.")
    return fig, alt


def tableau_evolution(ctx: Contexte):
    df = ind.evolution(ctx.cafdata, ctx.year)
    out = pd.DataFrame({
        "Décembre": df.annee.astype(str),
        "Foyers allocataires": df.foyers.map(fmt.nombre),
        "Évolution annuelle": (df.foyers / df.foyers.shift() - 1).map(lambda x: fmt.variation(x, 1, True)),
        "Personnes couvertes": df.personnes.map(fmt.nombre),
    })
    out.loc[0, "Évolution annuelle"] = "–"
    resume = f"{len(df)} années, de {int(df.annee.min())} à {int(df.annee.max())}."
    return out, resume


def prestations(ctx: Contexte):
    y = annee(ctx)
    b = ind.benefit_groups(y.totals, y.previous).sort_values("foyers", ascending=False)
    fig = charts.barh(b.groupe, b.foyers, xlabel="foyers allocataires")
    alt = "Barres horizontales : " + " ; ".join(
        f"{g} {fmt.nombre(n)} foyers ({fmt.pourcent(p)})" for g, n, p in zip(b.groupe, b.foyers, b.part)) + "."
    table = pd.DataFrame({
        "Prestation": b.groupe,
        "Foyers bénéficiaires": b.foyers.map(fmt.nombre),
        "Part des allocataires": b.part.map(fmt.pourcent),
        "Évolution sur 1 an": b.variation.map(lambda x: fmt.variation(x, 1, True)),
    })
    resume = (f"Foyers bénéficiaires de chaque groupe de prestations en décembre {ctx.year} ; un foyer peut "
              "percevoir plusieurs prestations, les parts ne s’additionnent pas.")
    return fig, alt, table, resume


def prestations_absentes(ctx: Contexte) -> str:
    """Groups of benefits the data do not have (e.g. the AAH in the commune file), as a sentence."""
    from .cafdata import BENEFIT_GROUPS

    present = set(ind.benefit_groups(annee(ctx).totals, None).groupe)
    missing = [label for label, _ in BENEFIT_GROUPS if label not in present]
    if not missing:
        return ""
    return ("Les fichiers Cafdata utilisés ne détaillent pas : " + ", ".join(m.lower() if i else m
                                                                             for i, m in enumerate(missing)) + ".")


def configuration(ctx: Contexte):
    t = ind.family_table(ctx.cafdata, ctx.year)
    if t is None:
        return None
    fig = charts.stacked_family(t)
    total = t.values.sum()
    alt = "Barres empilées par configuration familiale : " + " ; ".join(
        f"{charts.FAMILY_LABELS.get(conf, conf)} {fmt.nombre(t.loc[conf].sum())} foyers dont "
        f"{fmt.nombre(t.loc[conf].get('0', 0))} sans enfant" for conf in t.index) + f". Total {fmt.nombre(total)}."
    return fig, alt


def tableau_epci(ctx: Contexte):
    df = ind.coverage_by_epci(ctx.cafdata, ctx.reference, ctx.year)
    if df.empty:
        return None
    out = pd.DataFrame({
        "EPCI": df.nom,
        "Foyers allocataires": df.indfoy_ndur.map(fmt.nombre),
        "Personnes couvertes": df.indnbp_ndur.map(fmt.nombre),
        "Population municipale": df.population_municipale.map(fmt.nombre),
        "Taux de couverture": df.taux_couverture.map(fmt.pourcent),
    })
    hi, lo = df.iloc[0], df.iloc[-1]
    resume = (f"Taux de couverture le plus élevé : {hi.nom} ({fmt.pourcent(hi.taux_couverture)}) ; "
              f"le plus bas : {lo.nom} ({fmt.pourcent(lo.taux_couverture)}).")
    return out, resume, df


SMALL_COMMUNE = 200  # inhabitants: below, a rate of counts rounded to 5 means little


def _communes_rates(ctx: Contexte):
    """Commune outlines with their coverage rate (None when boundaries or populations lack)."""
    if ctx.geo is None or not ctx.geo.communes_files:
        return None
    pops = ctx.geo.commune_populations(ctx.year)
    if pops is None:
        return None
    com = communes_year(ctx.cafdata, ctx.reference, ctx.year)
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
    g["taux"] = g.indnbp_ndur / g.population
    g.loc[g.population.isna() | (g.population < SMALL_COMMUNE), "taux"] = float("nan")
    return g


def _bounds(ctx: Contexte):
    """Class limits shared by the EPCI and commune maps (quantiles of the communes)."""
    g = _communes_rates(ctx)
    return None if g is None or g.taux.notna().sum() < 10 else charts.class_bounds(g.taux.dropna())


def carte_epci(ctx: Contexte):
    if ctx.geo is None or ctx.geo.epci() is None:
        return None
    t = tableau_epci(ctx)
    if t is None:
        return None
    _, _, df = t
    g = ctx.geo.epci().drop(columns=["nom"], errors="ignore").merge(
        df[["siren", "nom", "taux_couverture"]], on="siren", how="left")
    fig = charts.choropleth(g, "taux_couverture", "Personnes couvertes / population", names="nom",
                            bounds=_bounds(ctx))
    hi, lo = df.iloc[0], df.iloc[-1]
    alt = (f"Carte des {len(df)} EPCI colorés selon le taux de couverture, de {fmt.pourcent(lo.taux_couverture)} "
           f"({lo.nom}) à {fmt.pourcent(hi.taux_couverture)} ({hi.nom}).")
    return fig, alt


def carte_communes(ctx: Contexte):
    g = _communes_rates(ctx)
    if g is None:
        return None
    fig = charts.choropleth(g, "taux", "Personnes couvertes / population", outline=ctx.geo.epci(),
                            bounds=_bounds(ctx),
                            missing_label=f"sans donnée ou moins de {fmt.nombre(SMALL_COMMUNE)} habitants")
    known = g.dropna(subset=["taux"])
    alt = (f"Carte des {len(g)} communes colorées selon la part des habitants couverts par la Caf, "
           f"médiane {fmt.pourcent(known.taux.median())}, de {fmt.pourcent(known.taux.min())} à "
           f"{fmt.pourcent(known.taux.max())} ; {len(g) - len(known)} communes sans donnée ou de moins de "
           f"{fmt.nombre(SMALL_COMMUNE)} habitants.")
    return fig, alt
