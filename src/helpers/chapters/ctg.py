"""CTG chapter: values, figures and tables computed from the CTG register at 31 December."""
from __future__ import annotations

import pandas as pd

from helpers import fmt, lineage
from helpers.chapters.context import Context, once
from helpers.chapters.registry import ChapterSpec
from helpers.indicators import ctg as ind
from helpers.lineage import sourced
from helpers.params import departement_row
from helpers.report import charts
from helpers.report.page import ref

SPEC = ChapterSpec(
    key="ctg", notebook="02_ctg.ipynb", title="conventions territoriales globales",
    reads=("registers", "childcare"), registers=("ctg",),
    labels={"epci_couverts_ctg": ("EPCI couverts par une CTG", "nombre"),
            "part_habitants_couverts_ctg": ("Part des habitants couverts par une CTG", "part"),
            "ctg_signees_annee": ("CTG signées dans l’année", "nombre")})

STATUS_COLORS = {ind.STATUS_BEFORE: charts.BLUE, ind.STATUS_SIGNED: charts.ORANGE, ind.STATUS_NONE: "#DDDDDD"}


FEMININE = ("CC ", "CA ", "CU ", "Communauté", "Métropole", "Eurométropole")


def with_article(name: str, de: bool = False) -> str:
    """« la CC de l’Île de Ré », « de la CA de La Rochelle » (an EPCI is a communauté or a métropole)."""
    article = "la " if name.startswith(FEMININE) else ""
    return f"{'de ' if de else ''}{article}{name}"


def enumeration(names, de: bool = False) -> str:
    """« la CC A, la CC B et la CA C » (« de la CC A, de la CC B et de la CA C » with `de`)."""
    items = [with_article(n, de) for n in names]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1] if items else ""


def disponible(ctx: Context) -> bool:
    return ctx.registres_disponibles()


def illustratif_chapitre(ctx: Context) -> bool:
    return ctx.registres_illustratifs()


def illustratif(ctx: Context) -> bool:
    """The CTG register holds illustrative rows: its figures carry the mark and feed no
    evolution and no map."""
    return bool(ctx.registers is not None and ctx.registers.illustrative["ctg"])


@once
def annee(ctx: Context, year: int | None = None) -> ind.CtgYear:
    """The CTG figures at 31 December of the report's year (or of `year`), computed once."""
    return ind.ctg_year(ctx.registers, ctx.reference, ctx.year if year is None else year)


@once
def valeurs(ctx: Context) -> dict[str, str]:
    """The chapter's values, each with what it was computed from (the register, the populations)."""
    with lineage.recording() as reads:
        v = _valeurs(ctx)
    return ctx.tagged(v, reads)


def _valeurs(ctx: Context) -> dict[str, str]:
    c = annee(ctx)
    prev = annee(ctx, ctx.year - 1)
    v = ctx.base_values()
    n_cov = len(c.covered)
    v.update({
        "epci_couverts": fmt.nombre(n_cov),
        "epci_total": fmt.nombre(c.n_epci),
        "part_habitants_ctg": fmt.pourcent(c.part_habitants_ctg),
        "part_habitants_ctg_var": fmt.points(c.part_habitants_ctg - prev.part_habitants_ctg),
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
        "phrase_prec": "" if illustratif(ctx) else f" ({fmt.nombre(len(prev.covered))} un an plus tôt)",
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
    signed = list(c.status.loc[c.status.statut == ind.STATUS_SIGNED, "nom"])
    before = list(c.status.loc[c.status.statut == ind.STATUS_BEFORE, "nom"])
    if n_signed:
        v["phrase_deploiement"] = (f"{v['phrase_signatures']}, avec {enumeration(signed)}. " + (
            f"Elles complètent les démarches déjà engagées avec {enumeration(before)}." if before else
            "Aucune démarche n’était engagée auparavant."))
    else:
        v["phrase_deploiement"] = (f"{v['phrase_signatures']}. " + (
            f"Les démarches engagées concernent {enumeration(before)}." if before else
            "Aucune démarche n’est engagée."))
    return v


def lignes_publiques(ctx: Context) -> dict[str, str]:
    """The EPCI whose conventions in the register rest on public sources (not illustrative rows)."""
    ctg = ctx.registers.ctg
    ctg = ctg[ctg.date_signature <= ind.end_of_year(ctx.year)]  # a later convention is not part of this report
    public = ctg[~ctg.source.str.strip().str.lower().str.startswith("illustratif")]
    names = ctx.epci_names()
    listed = [names.get(s, s) for s in dict.fromkeys(public.siren_epci)]
    return {"publiques": enumeration(listed, de=True) if listed else "d’aucun EPCI"}


def chiffres_cles(ctx: Context):
    c = annee(ctx)
    v = valeurs(ctx)
    n_new, n_signed, n_end = len(c.new), len(c.signed), len(c.ending)
    detail_signed = ("toutes des premières conventions" if n_signed > 1 and n_new == n_signed else
                     "une première convention" if n_signed == 1 and n_new == 1 else
                     f"dont {v['nouvelles']} premières" if n_signed else "")
    ending = c.ending.merge(c.status[["siren", "nom"]], left_on="siren_epci", right_on="siren", how="left")
    illus = illustratif(ctx)  # no evolution from illustrative rows
    # each value carries its lineage (valeurs): the page marks a key figure computed from illustrative rows
    covered = lineage.Valeur(f"{v['epci_couverts']} / {v['epci_total']}", lineage.of(v["epci_couverts"]))
    return [
        (covered, "EPCI couverts par une CTG", "" if illus else f"{v['epci_couverts_prec']} fin {ctx.year - 1}"),
        (v["part_habitants_ctg"], "des habitants vivent dans un EPCI couvert",
         "" if illus else f"{v['part_habitants_ctg_var']} en un an"),
        (v["signees"], f"{'CTG signées' if n_signed > 1 else 'CTG signée'} en {ctx.year}", detail_signed),
        (v["fin_annee"], f"{'conventions arrivées' if n_end > 1 else 'convention arrivée'} à échéance en {ctx.year}",
         ", ".join(ending.nom.dropna())),
    ]


def kept_values(ctx: Context) -> dict[str, float]:
    c = annee(ctx)
    return {"epci_couverts_ctg": len(c.covered), "part_habitants_couverts_ctg": c.part_habitants_ctg,
            "ctg_signees_annee": len(c.signed)}


def illustrative_keys(ctx: Context) -> set[str]:
    return set(kept_values(ctx)) if illustratif(ctx) else set()


@sourced
def tableau_statut(ctx: Context):
    c = annee(ctx)
    st, _ = c.with_populations()
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


@sourced
def carte_statut(ctx: Context):
    """The EPCI coloured by status; never drawn from a register holding illustrative rows (the
    table says the same, with its mark)."""
    if illustratif(ctx):
        return None
    c = annee(ctx)
    g = ctx.epci_outlines(c.status[["siren", "nom", "statut"]])
    if g is None:
        return None
    fig = charts.choropleth(g, "statut", f"Situation au {ctx.date_obs}", categorical=True, colors=STATUS_COLORS,
                            names="nom")
    counts = c.status.statut.value_counts()
    alt = (f"Carte des {c.n_epci} EPCI : " + " ; ".join(
        f"{fmt.nombre(counts.get(s, 0))} avec le statut « {s} »" for s in ind.STATUS_ORDER) + ".")
    return fig, alt


@sourced
def frise(ctx: Context):
    ctg = ctx.registers.ctg[ctx.registers.ctg.date_signature <= ind.end_of_year(ctx.year)]
    names = ctx.epci_names()
    fig = charts.timeline(ctg, names, ctx.year)
    first = ctg.date_signature.min()
    alt = (f"Frise des {len(ctg)} conventions signées jusqu’au {ctx.date_obs}, la première le "
           f"{fmt.date_longue(first.date())} ; une barre par période de convention et un losange par signature.")
    return fig, alt


@sourced
def tableau_thematiques(ctx: Context):
    """Themes of the CTG in force, one row per EPCI, with a last row counting the CTG per theme."""
    from helpers.data.registers import THEMES
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


# ---------------------------------------------------------------- childcare coverage (real open data)

def petite_enfance_disponible(ctx: Context) -> bool:
    """The childcare coverage rates exist for the département's EPCI, for a year not after the report's."""
    c = ctx.childcare
    return bool(c is not None and c.year <= ctx.year and not c.level("epci").empty
                and c.value("departement", ctx.p.departement) is not None)


@once
def _petite_enfance(ctx: Context) -> pd.DataFrame:
    c = ctx.childcare
    epci = ctx.reference.epci_names(ctx.year)
    df = epci[["siren", "nom"]].merge(c.level("epci").rename(columns={"code": "siren", "nom": "nom_source"}),
                                      on="siren", how="left")
    return df.sort_values("txcouv", ascending=False).reset_index(drop=True)


@once
def petite_enfance_valeurs(ctx: Context) -> dict[str, str]:
    c = ctx.childcare
    df = _petite_enfance(ctx).dropna(subset=["txcouv"])
    region = c.level("region")
    hi, lo = df.iloc[0], df.iloc[-1]
    return {
        "annee_pe": str(c.year),
        "pe_dep": fmt.nombre(c.value("departement", ctx.p.departement), 1),
        "pe_region": fmt.nombre(float(region.txcouv.iloc[0]), 1) if not region.empty else "n.d.",
        "pe_region_nom": _region_name(ctx, region),
        "pe_france": fmt.nombre(c.value("france", "FR"), 1) if c.value("france", "FR") is not None else "n.d.",
        "pe_ampleur": _ampleur(hi.txcouv / lo.txcouv if lo.txcouv else float("nan")),
        "pe_max": fmt.nombre(hi.txcouv, 1), "pe_max_nom": hi.nom,
        "pe_min": fmt.nombre(lo.txcouv, 1), "pe_min_nom": lo.nom,
        "pe_au_dessus": fmt.nombre(int((df.txcouv > c.value("departement", ctx.p.departement)).sum())),
        "pe_n": fmt.nombre(len(df)),
        "pe_phrase_au_dessus": _au_dessus(int((df.txcouv > c.value("departement", ctx.p.departement)).sum()),
                                          len(df)),
    }


def _au_dessus(k: int, n: int) -> str:
    """How many EPCI offer more places than the département as a whole (its rate, not a mean of theirs)."""
    if k == 0:
        return "aucun EPCI n’offre plus de places que l’ensemble du département"
    if k == n:
        return f"les {fmt.nombre(n)} EPCI offrent tous plus de places que l’ensemble du département"
    if k == 1:
        return f"un seul des {fmt.nombre(n)} EPCI offre plus de places que l’ensemble du département"
    return f"{fmt.nombre(k)} des {fmt.nombre(n)} EPCI offrent plus de places que l’ensemble du département"


def _ampleur(ratio: float) -> str:
    """« du simple au double » only when the highest rate is about twice the lowest (and so on)."""
    for low, high, words in ((1.75, 2.5, "du simple au double "), (2.5, 3.5, "du simple au triple ")):
        if low <= ratio < high:
            return words
    return ""


def valeurs_petite_enfance(ctx: Context) -> lineage.Valeurs:
    """The childcare paragraph's values (and the first theme's sentence), as attributes for the notebook's
    Markdown (« {eval}`pe.pe_dep` »)."""
    return lineage.Valeurs({**petite_enfance_valeurs(ctx), **premiere_thematique(ctx)})


def premiere_thematique(ctx: Context) -> dict[str, str]:
    """« La petite enfance est la première thématique des CTG. », only when it is (ex aequo or not) the most
    frequent theme of the conventions in force, with the register's lineage (its mark)."""
    if not disponible(ctx):
        return {"phrase_premiere": ""}
    with lineage.recording() as reads:
        c = annee(ctx)
        themes = [t for ts in c.status.loc[c.status.statut != ind.STATUS_NONE, "themes"]
                  if isinstance(ts, list) for t in ts]
    counts = pd.Series(themes, dtype=object).value_counts()
    first = not counts.empty and counts.get("petite enfance", 0) == counts.max()
    return {"phrase_premiere": lineage.Valeur("La petite enfance est la première thématique des CTG. ", reads)
            if first else ""}


def _region_name(ctx: Context, region: pd.DataFrame) -> str:
    if region.empty:
        return "la région"
    name = region.nom.iloc[0]
    return name if isinstance(name, str) and name else f"la région {region.code.iloc[0]}"


@sourced
def tableau_petite_enfance(ctx: Context):
    c = ctx.childcare
    df = _petite_enfance(ctx)
    show = lambda x: "–" if pd.isna(x) else fmt.nombre(x, 1)  # noqa: E731
    out = pd.DataFrame({
        "EPCI": df.nom,
        "Taux de couverture global": df.txcouv.map(show),
        "dont accueil collectif": df.txcouv_eaje.map(show),
        "dont assistantes maternelles": df.txcouv_am_ind.map(show),
    })
    region = c.level("region")
    row = departement_row(ctx.p.departement, ctx.p.reference_dir)
    refs = [(row["nom"] if row else f"Département {ctx.p.departement}",
             c.level("departement").loc[lambda f: f.code == ctx.p.departement])]
    if not region.empty:
        refs.append((_region_name(ctx, region), region))
    refs.append(("France", c.level("france")))
    for label, row in refs:
        if not row.empty:
            r = row.iloc[0]
            out.loc[len(out)] = [label, show(r.txcouv), show(r.txcouv_eaje), show(r.txcouv_am_ind)]
    v = petite_enfance_valeurs(ctx)
    resume = (f"Places d’accueil pour 100 enfants de moins de 3 ans en {c.year} : de {v['pe_min']} ({v['pe_min_nom']}) "
              f"à {v['pe_max']} ({v['pe_max_nom']}) selon les EPCI ; {v['pe_dep']} dans le département, "
              f"{v['pe_region']} en {v['pe_region_nom']}, {v['pe_france']} en France. Les trois dernières lignes "
              "sont les références.")
    return out, resume


@sourced
def carte_petite_enfance(ctx: Context):
    g = ctx.epci_outlines(_petite_enfance(ctx)[["siren", "nom", "txcouv"]])
    if g is None:
        return None
    fig = charts.choropleth(g, "txcouv", "Places pour 100 enfants\nde moins de 3 ans", percent=False, cmap="Greens",
                            names="nom")
    v = petite_enfance_valeurs(ctx)
    alt = (f"Carte des {v['pe_n']} EPCI colorés selon le taux de couverture global petite enfance {v['annee_pe']}, "
           f"de {v['pe_min']} ({v['pe_min_nom']}) à {v['pe_max']} ({v['pe_max_nom']}) places pour 100 enfants de "
           f"moins de 3 ans ; département {v['pe_dep']}.")
    return fig, alt


# ---------------------------------------------------------------- commentary computed from each table

def commentaire_frise(ctx: Context) -> tuple[str, dict] | None:
    """After the timeline: how many conventions were signed, over which years, and the year with most."""
    with lineage.recording() as reads:
        ctg = ctx.registers.ctg[ctx.registers.ctg.date_signature <= ind.end_of_year(ctx.year)]
    if len(ctg) < 2:
        return None
    years = ctg.date_signature.dt.year
    counts = years.value_counts().sort_index()
    top = counts[counts == counts.max()]
    v = {"n": fmt.nombre(len(ctg)), "debut": str(int(years.min())), "fin": str(int(years.max())),
         "max": fmt.pluriel(int(counts.max()), "signature"),
         "annees_max": fmt.liste([str(y) for y in top.index])}
    template = ("Les {n} conventions du registre ont été signées de {debut} à {fin} ; "
                + ("l’année {annees_max} en compte le plus ({max})." if len(top) == 1 else
                   "les années {annees_max} en comptent le plus ({max} chacune)."))
    return template, ctx.tagged(v, reads)


def commentaire_thematiques(ctx: Context) -> tuple[str, dict] | None:
    """After the themes table: the themes every convention in force covers, and the rarer ones with their
    count."""
    from helpers.data.registers import THEMES
    with lineage.recording() as reads:
        c = annee(ctx)
        st = c.status[c.status.statut != ind.STATUS_NONE]
    n = len(st)
    if n < 2:
        return None
    counts = {t: int(st.themes.map(lambda ts, t=t: isinstance(ts, list) and t in ts).sum()) for t in THEMES}
    every = [t for t in THEMES if counts[t] == n]
    some = sorted(((t, k) for t, k in counts.items() if 0 < k < n), key=lambda x: -x[1])
    none = [t for t in THEMES if counts[t] == 0]
    parts = []
    if every:
        parts.append(f"les {fmt.nombre(n)} CTG en vigueur couvrent toutes {fmt.liste([_theme(t) for t in every])}")
    if some:  # grouped by count: « le logement et le handicap dans 3 »
        groups = {}
        for t, k in some:
            groups.setdefault(k, []).append(_theme(t))
        said = []
        for i, (k, names) in enumerate(groups.items()):
            where = ("une seule" if k == 1 else fmt.nombre(k)) + (" d’entre elles" if every else
                                                                   f" des {fmt.nombre(n)} CTG en vigueur")
            verb = ("figurent" if len(names) > 1 else "figure") + " dans " if i == 0 else "dans "
            said.append(f"{fmt.liste(names)} {verb}{where if i == 0 or not every else where.split(' d’')[0]}")
        parts.append(", ".join(said))
    if none:
        parts.append(f"aucune ne traite {fmt.liste([_theme(t, de=True) for t in none])}")
    text = " ; ".join(parts)
    return "{texte}.", ctx.tagged({"texte": text[:1].upper() + text[1:]}, reads)


def _theme(t: str, de: bool = False) -> str:
    articles = {"petite enfance": ("la petite enfance", "de la petite enfance"),
                "jeunesse": ("la jeunesse", "de la jeunesse"),
                "soutien à la parentalité": ("le soutien à la parentalité", "du soutien à la parentalité"),
                "animation de la vie sociale": ("l’animation de la vie sociale", "de l’animation de la vie sociale"),
                "accès aux droits et inclusion numérique": ("l’accès aux droits et l’inclusion numérique",
                                                            "de l’accès aux droits et de l’inclusion numérique"),
                "logement": ("le logement", "du logement"), "handicap": ("le handicap", "du handicap")}
    pair = articles.get(t, (t, f"de {t}"))
    return pair[1] if de else pair[0]


def commentaire_petite_enfance(ctx: Context) -> tuple[str, dict] | None:
    """After the childcare table: the ratio between the best and the least endowed EPCI (a ratio, said as
    such) and how many EPCI are below France."""
    c = ctx.childcare
    with lineage.recording() as reads:
        df = _petite_enfance(ctx).dropna(subset=["txcouv"])
    fr = c.value("france", "FR")
    if len(df) < 2:
        return None
    hi, lo = df.iloc[0], df.iloc[-1]
    v = {}
    parts = []
    if lo.txcouv:
        v["rapport"] = fmt.nombre(hi.txcouv / lo.txcouv, 1)
        v["max_nom"], v["min_nom"] = fmt.nom_court(hi.nom), fmt.nom_court(lo.nom)
        parts.append("l’EPCI le mieux doté ({max_nom}) offre {rapport} fois plus de places que le moins doté "
                     "({min_nom})" if round(hi.txcouv / lo.txcouv, 1) > 1 else "l’offre est la même dans tous les EPCI")
    if fr is not None:
        below = int((df.txcouv.round(1) < round(fr, 1)).sum())
        v["france"] = fmt.nombre(fr, 1)
        v["sous_france"] = ("aucun EPCI n’est sous le niveau de la France" if below == 0 else
                            "tous les EPCI sont sous le niveau de la France" if below == len(df) else
                            f"{'un seul' if below == 1 else fmt.nombre(below)} des {fmt.nombre(len(df))} EPCI "
                            f"{'est' if below == 1 else 'sont'} sous le niveau de la France")
        parts.append("{sous_france} ({france} places)")
    if not parts:
        return None
    template = "Pour 100 enfants de moins de 3 ans, " + " ; ".join(parts) + "."
    return template, ctx.tagged(v, reads)
