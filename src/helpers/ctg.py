"""CTG chapter: values, figures and tables computed from the CTG register at 31 December."""
from __future__ import annotations

import pandas as pd

from . import charts, fmt
from . import indicators as ind
from .contexte import Contexte
from .page import ref

STATUS_COLORS = {ind.STATUS_BEFORE: charts.BLUE, ind.STATUS_SIGNED: charts.ORANGE, ind.STATUS_NONE: "#DDDDDD"}


def disponible(ctx: Contexte) -> bool:
    return ctx.registres_disponibles()


def annee(ctx: Contexte) -> ind.CtgYear:
    return ind.ctg_year(ctx.registers, ctx.reference, ctx.year)


def source(ctx: Contexte) -> str:
    demo = " (lignes illustratives comprises)" if ctx.registers.illustrative["ctg"] else ""
    return ctx.source(f"registre des CTG de la Caf au {ctx.date_obs}{demo} ; DGCL, populations légales "
                      f"en vigueur en {ctx.reference.epci_year(ctx.year)[1]}")


def valeurs(ctx: Contexte) -> dict[str, str]:
    c = annee(ctx)
    prev = ind.ctg_year(ctx.registers, ctx.reference, ctx.year - 1)
    v = ctx.base_values()
    n_cov = len(c.covered)
    v.update({
        "epci_couverts": fmt.nombre(n_cov),
        "epci_total": fmt.nombre(c.n_epci),
        "part_habitants": fmt.pourcent(c.share_covered),
        "part_habitants_var": fmt.points(c.share_covered - prev.share_covered),
        "signees": fmt.nombre(len(c.signed)),
        "signees_mot": "nouvelle CTG" if len(c.new) < 2 else "nouvelles CTG",
        "nouvelles": fmt.nombre(len(c.new)),
        "renouvelees": fmt.nombre(len(c.signed) - len(c.new)),
        "fin_annee": fmt.nombre(len(c.ending)),
        "epci_couverts_prec": fmt.nombre(len(prev.covered)),
        "annee_population": str(c.population_year),
        "population_couverte": fmt.nombre(c.population_covered),
        "population_totale": fmt.nombre(c.population_total),
        "non_couverts": ", ".join(c.status.loc[c.status.statut == ind.STATUS_NONE, "nom"]) or "aucun",
        "signees_liste": ", ".join(c.status.loc[c.status.statut == ind.STATUS_SIGNED, "nom"]) or "aucune",
        "anterieures_liste": ", ".join(c.status.loc[c.status.statut == ind.STATUS_BEFORE, "nom"]) or "aucune",
        "renvoi_tableau_epci": ref("tab-epci", "tableau", "portrait"),
    })
    n_new, n_signed = len(c.new), len(c.signed)
    if n_new >= 3:
        v["phrase_signatures"] = (f"L’année {ctx.year} a été très dynamique : "
                                  f"{fmt.pluriel(n_new, 'nouvelle CTG a été signée', 'nouvelles CTG ont été signées')}")
    elif n_signed:
        v["phrase_signatures"] = (f"En {ctx.year}, {fmt.pluriel(n_signed, 'CTG a été signée', 'CTG ont été signées')}"
                                  + (f", dont {fmt.pluriel(n_new, 'première convention', 'premières conventions')}"
                                     if n_new and n_new < n_signed else ""))
    else:
        v["phrase_signatures"] = f"Aucune CTG n’a été signée en {ctx.year}"
    if n_signed:
        v["phrase_deploiement"] = (f"{v['phrase_signatures']} : {v['signees_liste']}. Elles complètent les démarches "
                                   f"déjà engagées : {v['anterieures_liste']}.")
    else:
        v["phrase_deploiement"] = f"{v['phrase_signatures']}. Les démarches engagées concernent : {v['anterieures_liste']}."
    return v


def lignes_publiques(ctx: Contexte) -> dict[str, str]:
    """The EPCI whose conventions in the register rest on public sources (not illustrative rows)."""
    ctg = ctx.registers.ctg
    public = ctg[~ctg.source.str.strip().str.lower().str.startswith("illustratif")]
    names = dict(zip(ctx.reference.epci_year(ctx.year)[0].siren, ctx.reference.epci_year(ctx.year)[0].nom))
    listed = [names.get(s, s) for s in dict.fromkeys(public.siren_epci)]
    return {"publiques": ", ".join(listed) if listed else "aucun EPCI"}


def chiffres_cles(ctx: Contexte):
    c = annee(ctx)
    v = valeurs(ctx)
    n_new, n_signed, n_end = len(c.new), len(c.signed), len(c.ending)
    detail_signed = ("toutes des premières conventions" if n_signed > 1 and n_new == n_signed else
                     "une première convention" if n_signed == 1 and n_new == 1 else
                     f"dont {v['nouvelles']} premières" if n_signed else "")
    ending = c.ending.merge(c.status[["siren", "nom"]], left_on="siren_epci", right_on="siren", how="left")
    return [
        (f"{v['epci_couverts']} / {v['epci_total']}", "EPCI couverts par une CTG", f"{v['epci_couverts_prec']} fin {ctx.year - 1}"),
        (v["part_habitants"], "des habitants vivent dans un EPCI couvert", f"{v['part_habitants_var']} en un an"),
        (v["signees"], f"{'CTG signées' if n_signed > 1 else 'CTG signée'} en {ctx.year}", detail_signed),
        (v["fin_annee"], f"{'conventions arrivées' if n_end > 1 else 'convention arrivée'} à échéance en {ctx.year}",
         ", ".join(ending.nom.dropna())),
    ]


def kept_values(ctx: Contexte) -> dict[str, float]:
    c = annee(ctx)
    return {"epci_couverts_ctg": len(c.covered), "part_habitants_couverts_ctg": c.share_covered,
            "ctg_signees_annee": len(c.signed)}


def tableau_statut(ctx: Contexte):
    c = annee(ctx)
    st = c.status
    out = pd.DataFrame({
        "EPCI": st.nom,
        "Statut au " + ctx.date_obs: st.statut,
        "Signature": st.date_signature.map(lambda d: fmt.date_longue(d.date()) if pd.notna(d) else "–"),
        "Fin de la convention": st.date_fin.map(lambda d: fmt.date_longue(d.date()) if pd.notna(d) else "–"),
        "Population municipale": st.population_municipale.map(fmt.nombre),
    })
    counts = st.statut.value_counts()
    resume = "; ".join(f"{s} : {fmt.nombre(counts.get(s, 0))} EPCI" for s in ind.STATUS_ORDER) + "."
    return out, resume


def carte_statut(ctx: Contexte):
    if ctx.geo is None or ctx.geo.epci() is None:
        return None
    c = annee(ctx)
    g = ctx.geo.epci().merge(c.status[["siren", "statut"]], on="siren", how="left")
    fig = charts.choropleth(g, "statut", f"Situation au {ctx.date_obs}", categorical=True, colors=STATUS_COLORS)
    counts = c.status.statut.value_counts()
    alt = (f"Carte des {c.n_epci} EPCI : " + " ; ".join(
        f"{fmt.nombre(counts.get(s, 0))} avec le statut « {s} »" for s in ind.STATUS_ORDER) + ".")
    return fig, alt


def frise(ctx: Contexte):
    ctg = ctx.registers.ctg[ctx.registers.ctg.date_signature <= ind.end_of_year(ctx.year)]
    names = dict(zip(ctx.reference.epci_year(ctx.year)[0].siren, ctx.reference.epci_year(ctx.year)[0].nom))
    fig = charts.timeline(ctg, names, ctx.year)
    first = ctg.date_signature.min()
    alt = (f"Frise des {len(ctg)} conventions signées jusqu’au {ctx.date_obs}, la première le "
           f"{fmt.date_longue(first.date())} ; une barre par période de convention et un losange par signature.")
    return fig, alt


def tableau_thematiques(ctx: Contexte):
    """Themes of the CTG in force, one row per EPCI, with a last row counting the CTG per theme."""
    from .registers import THEMES

    c = annee(ctx)
    st = c.status[c.status.statut != ind.STATUS_NONE]
    short = {"petite enfance": "Petite enfance", "jeunesse": "Jeunesse", "soutien à la parentalité": "Parentalité",
             "animation de la vie sociale": "Vie sociale", "accès aux droits et inclusion numérique": "Accès aux droits",
             "logement": "Logement", "handicap": "Handicap"}
    rows = []
    for _, r in st.iterrows():
        themes = r.themes if isinstance(r.themes, list) else []
        rows.append({"EPCI": r.nom, **{short[t]: ("oui" if t in themes else "–") for t in THEMES}})
    out = pd.DataFrame(rows, columns=["EPCI", *[short[t] for t in THEMES]])
    counts = {short[t]: int((out[short[t]] == "oui").sum()) for t in THEMES}
    out.loc[len(out)] = ["Nombre de CTG", *[fmt.nombre(n) for n in counts.values()]]
    resume = "Nombre de CTG en vigueur par thématique : " + " ; ".join(
        f"{k} {fmt.nombre(n)}" for k, n in counts.items()) + "."
    return out, resume
