"""Cooperation chapter: posts of chargés de coopération territoriale and the network."""
from __future__ import annotations

import pandas as pd

from helpers import fmt, lineage
from helpers.chapters.context import Context, once
from helpers.chapters.registry import ChapterSpec
from helpers.indicators import cooperation as ind
from helpers.lineage import sourced
from helpers.report import charts

SPEC = ChapterSpec(
    key="cooperation", notebook="03_cooperation.ipynb", title="coopération territoriale",
    reads=("registers",), registers=("postes", "reunions"),
    labels={"professionnels_cooperation": ("Professionnels de la coopération", "nombre"),
            "etp_cooperation": ("ETP de coopération", "etp"),
            "financement_caf_cooperation": ("Financement Caf des postes de coopération", "euros"),
            "reunions_reseau": ("Rencontres du réseau", "nombre"),
            "reunions_reseau_elus": ("dont avec responsables et élus", "nombre")})


def illustratif_chapitre(ctx: Context) -> bool:
    return ctx.registres_illustratifs()


def disponible(ctx: Context) -> bool:
    return ctx.registres_disponibles()


def illustratif(ctx: Context) -> bool:
    """The posts register holds illustrative rows: figures carry the mark; no evolution, no ranking."""
    return bool(ctx.registers is not None and ctx.registers.illustrative["postes"])


def reunions_illustratives(ctx: Context) -> bool:
    """The year's meetings include an illustrative row."""
    return bool(ctx.registers is not None and lineage.illustrative(valeurs(ctx)["reunions"]))


@once
def annee(ctx: Context, year: int | None = None) -> ind.CoopYear:
    """The cooperation figures at 31 December of the report's year (or of `year`), computed once."""
    return ind.coop_year(ctx.registers, ctx.reference, ctx.year if year is None else year)


@once
def valeurs(ctx: Context) -> dict[str, str]:
    """The chapter's values, each with what it was computed from: the posts' values with the posts
    register, the meetings' with the year's rows of the meetings register."""
    with lineage.recording() as posts:
        v = _valeurs_postes(ctx)
    with lineage.recording() as meetings:
        m = _valeurs_reunions(ctx)
    return lineage.Valeurs({**ctx.tagged(v, posts), **ctx.tagged(m, meetings)})


def _valeurs_postes(ctx: Context) -> dict[str, str]:
    k = annee(ctx)
    prev = annee(ctx, ctx.year - 1)
    v = ctx.base_values()
    v.update({
        "professionnels": fmt.nombre(k.professionals),
        "etp": fmt.nombre(k.fte, 1),
        "financement_caf": fmt.montant_long(k.caf_funding),
        "financement_caf_court": fmt.montant(k.caf_funding),
        "financement_collectivites": fmt.montant_long(k.local_funding),
        "professionnels_var": fmt.variation(k.professionals - prev.professionals),
        "etp_var": fmt.variation(k.fte - prev.fte, 1),
        "epci_avec_poste": fmt.nombre(int((k.by_epci.postes > 0).sum())),
    })
    return v


def _valeurs_reunions(ctx: Context) -> dict[str, str]:
    m = ind.meetings(ctx.registers, ctx.year)  # the year's rows of the meetings register alone, not the posts
    n, elus = len(m), ind.with_managers_and_elected(m)
    v = {
        "reunions": fmt.nombre(n),
        "reunions_mot": "rencontre du réseau a été organisée" if n < 2 else "rencontres du réseau ont été organisées",
        "reunions_elus": fmt.nombre(elus),
        "reunions_elus_mot": "ouverte" if elus < 2 else "ouvertes",
    }
    if n == 0:
        v["phrase_reunions"] = f"Aucune rencontre du réseau n’a été organisée en {ctx.year}."
    else:
        v["phrase_reunions"] = (
            f"En {ctx.year}, {fmt.nombre(n)} {v['reunions_mot']}, " + (
                f"dont {fmt.nombre(elus)} {v['reunions_elus_mot']} aux responsables hiérarchiques et aux élus des "
                "différents territoires." if elus else
                "aucune n’étant ouverte aux responsables hiérarchiques et aux élus des territoires."))
    return v


def chiffres_cles(ctx: Context):
    v = valeurs(ctx)
    illus = illustratif(ctx)  # no evolution from illustrative rows
    # each value carries its lineage (valeurs): the page marks a key figure computed from illustrative rows
    return [
        (v["professionnels"], "professionnels", "" if illus else f"{v['professionnels_var']} en un an"),
        (v["etp"], "équivalents temps plein", "" if illus else f"{v['etp_var']} en un an"),
        (v["financement_caf_court"], "financement de la Caf", "postes en cours au " + ctx.date_obs),
        (v["reunions"], f"{'rencontres' if v['reunions_mot'].startswith('rencontres') else 'rencontre'} du réseau en "
                        f"{ctx.year}",
         f"dont {v['reunions_elus']} avec responsables et élus"),
    ]


def illustrative_keys(ctx: Context) -> set[str]:
    keys = set()
    if illustratif(ctx):
        keys |= {"professionnels_cooperation", "etp_cooperation", "financement_caf_cooperation"}
    if reunions_illustratives(ctx):
        keys |= {"reunions_reseau", "reunions_reseau_elus"}
    return keys


def kept_values(ctx: Context) -> dict[str, float]:
    k = annee(ctx)
    return {"professionnels_cooperation": k.professionals, "etp_cooperation": k.fte,
            "financement_caf_cooperation": k.caf_funding, "reunions_reseau": len(k.meetings),
            "reunions_reseau_elus": k.meetings_with_managers_and_elected}


def _evenement(ctx: Context, kind: str) -> tuple[pd.Timestamp, lineage.Valeur] | None:
    """The first event of this type in the département's register, if it has happened by the end of
    the report's year (a later event is not told), with the year as a value carrying its row's lineage."""
    if ctx.registers is None:
        return None
    with lineage.recording() as reads:
        rows = ctx.registers.lignes("evenements", lambda f: (f.type == kind) & (f.date <= ind.end_of_year(ctx.year)))
    if rows.empty:
        return None
    d = rows.date.min()
    return d, lineage.Valeur(str(d.year), reads)


def recit(ctx: Context) -> tuple[str, dict] | None:
    """From « coordination » to « coopération »: the end of the CEJ and the departmental network, told only
    from the register's events of the département, in the tense that fits the report's year; None when the
    register holds neither for this year (then neither the sentences nor their heading)."""
    cej, reseau = _evenement(ctx, "fin_cej"), _evenement(ctx, "creation_reseau")
    if cej is None and reseau is None:
        return None
    v, parts = {}, []
    if cej is not None:
        v["annee_cej"] = cej[1]
        parts.append("## De la « coordination » à la « coopération »")
        parts.append(
            "L’année {annee_cej} a été marquée par la fin des contrats enfance jeunesse sur la totalité des "
            "territoires, et donc par la mise en œuvre du référentiel de poste national « chargé de coopération » en "
            "lieu et place des précédents postes de « coordination »." if cej[0].year == ctx.year else
            "Depuis la fin des contrats enfance jeunesse sur la totalité des territoires, en {annee_cej}, le "
            "référentiel de poste national « chargé de coopération » a pris la place des précédents postes de "
            "« coordination ».")
    if reseau is not None:
        v["annee_reseau"] = reseau[1]
        lead = ("Ce passage d’un travail de coordination à un travail de coopération à l’échelle des territoires de "
                "CTG nécessite un accompagnement spécifique : la Caf " if cej is not None else "La Caf ")
        parts.append(lead + ("s’est dotée en {annee_reseau} d’un réseau départemental des chargés de coopération "
                             "territoriale." if reseau[0].year == ctx.year else
                             "anime depuis {annee_reseau} un réseau départemental des chargés de coopération "
                             "territoriale."))
    return "\n\n".join(parts), v


def bandeau(ctx: Context) -> str | None:
    """The banner over illustrative posts or meetings registers: it says the totals reproduce the published
    figures only for a year whose edition publishes them."""
    if not (ctx.registers.illustrative["postes"] or ctx.registers.illustrative["reunions"]):
        return None
    published = set(ctx.p.published) & set(SPEC.labels)
    totals = (f"leurs totaux pour {ctx.year} reproduisent les chiffres publiés, mais le détail par poste et par EPCI "
              "est fictif" if published else
              f"ni leurs totaux pour {ctx.year} ni leur détail par poste et par EPCI ne décrivent la réalité")
    return ("**Données illustratives.** Les registres des postes de coopération et des rencontres du réseau sont, "
            f"dans cette édition, des registres de démonstration : {totals}.")


@sourced
def tableau_types(ctx: Context):
    k = annee(ctx)
    t = k.by_type
    labels = {"coopération": "Coopération (pilotage, suivi, évaluation)", "thématique": "Thématique",
              "infra-territorial": "Infra-territorial"}
    # one unit for every amount of the table, named in the headers (never « 1,1 M€ » beside « 275 k€ »)
    unit = fmt.unite_montants([*t.financement_caf, *t.financement_collectivites, k.caf_funding, k.local_funding])
    amount = lambda x: fmt.montant_en(x, unit)  # noqa: E731
    out = pd.DataFrame({
        "Type de poste": t.type_poste.map(labels),
        "Postes": t.postes.map(fmt.nombre),
        "ETP": t.etp.map(lambda x: fmt.nombre(x, 1)),
        f"Financement Caf ({unit[0]})": t.financement_caf.map(amount),
        f"Financement des collectivités ({unit[0]})": t.financement_collectivites.map(amount),
    })
    out.loc[len(out)] = ["Ensemble", fmt.nombre(k.professionals), fmt.nombre(k.fte, 1), amount(k.caf_funding),
                         amount(k.local_funding)]
    resume = " ; ".join(f"{labels[r.type_poste]} : {fmt.nombre(r.postes)} postes, {fmt.nombre(r.etp, 1)} ETP"
                        for r in t.itertuples()) + "."
    return out, resume


@sourced
def figure_epci(ctx: Context):
    """ETP per 10 000 inhabitants by EPCI, ranked; None from illustrative rows (never a ranking)."""
    if illustratif(ctx):
        return None
    k = annee(ctx)
    b = k.by_epci.sort_values("etp_10000_hab", ascending=False)
    fig = charts.barh(b.nom, b.etp_10000_hab, value_fmt=lambda x: fmt.nombre(x, 2),
                      xlabel="équivalents temps plein pour 10 000 habitants", axis_decimals=1)
    alt = "Barres horizontales, ETP de coopération pour 10 000 habitants : " + " ; ".join(
        f"{n} {fmt.nombre(x, 2)}" for n, x in zip(b.nom, b.etp_10000_hab)) + "."
    return fig, alt


@sourced
def tableau_epci(ctx: Context):
    k = annee(ctx)
    b = k.by_epci
    if illustratif(ctx):  # alphabetical: illustrative rows never make a ranking
        from helpers.data.reference import epci_sort_key
        b = b.sort_values("nom", key=lambda c: c.map(epci_sort_key))
    out = pd.DataFrame({
        "EPCI": b.nom,
        "Postes": b.postes.map(fmt.nombre),
        "ETP": b.etp.map(lambda x: fmt.nombre(x, 1)),
        "ETP pour 10 000 hab.": b.etp_10000_hab.map(lambda x: fmt.nombre(x, 2)),
        "Financement Caf": b.financement_caf.map(fmt.montant),
    })
    resume = f"{fmt.nombre(int((b.postes > 0).sum()))} EPCI sur {fmt.nombre(len(b))} ont au moins un poste en cours."
    return out, resume


@sourced
def tableau_reunions(ctx: Context):
    m = ind.meetings(ctx.registers, ctx.year)  # the meetings register alone, not the posts
    if m.empty:
        return None
    out = pd.DataFrame({
        "Date": m.date.map(lambda d: fmt.date_longue(d.date())),
        "Rencontre": m.intitule,
        "Publics": m.audiences.map(", ".join),
    })
    resume = f"{fmt.nombre(len(m))} rencontres du réseau en {ctx.year}."
    return out, resume


# ---------------------------------------------------------------- commentary computed from each table

def commentaire_types(ctx: Context) -> tuple[str, dict] | None:
    """After the posts-by-type table: each type's share of the ETP and the Caf's share of the funding."""
    with lineage.recording() as reads:
        k = annee(ctx)
        t = k.by_type
    if t.empty or not k.fte:
        return None
    words = {"coopération": "de la fonction de coopération", "thématique": "de postes thématiques",
             "infra-territorial": "de postes infra-territoriaux"}
    parts = [f"{fmt.pourcent(r.etp / k.fte)} {'relèvent ' if i == 0 else ''}{words.get(r.type_poste, r.type_poste)}"
             for i, r in enumerate(t.sort_values("etp", ascending=False).itertuples())]
    v = {"etp": fmt.nombre(k.fte, 1), "repartition": fmt.liste(parts)}
    template = "Sur les {etp} ETP, {repartition}."
    total = k.caf_funding + k.local_funding
    if total:
        v["part_caf"] = fmt.pourcent(k.caf_funding / total)
        template += " La Caf apporte {part_caf} du financement de ces postes."
    return template, ctx.tagged(v, reads)


def commentaire_epci(ctx: Context) -> tuple[str, dict] | None:
    """After the posts-by-EPCI table: how many EPCI have a post; which has the most ETP per 10 000
    inhabitants, only from public rows (illustrative rows never make a ranking)."""
    with lineage.recording() as reads:
        b = annee(ctx).by_epci
    if b.empty:
        return None
    n_with = int((b.postes > 0).sum())
    v = {"avec": ("aucun EPCI n’a" if n_with == 0 else
                  f"{'un seul' if n_with == 1 else fmt.nombre(n_with)} des {fmt.nombre(len(b))} EPCI "
                  f"{'a' if n_with == 1 else 'ont'}")}
    template = "Au {date_obs}, {avec} au moins un poste de coopération en cours."
    if not illustratif(ctx) and n_with >= 2:
        top = b.sort_values("etp_10000_hab", ascending=False).iloc[0]
        v["top"], v["top_taux"] = top.nom, fmt.nombre(top.etp_10000_hab, 2)
        template += " Rapporté à la population, {top} est le mieux doté ({top_taux} ETP pour 10 000 habitants)."
    return template, {**ctx.tagged(v, reads), **ctx.base_values()}
