"""Cooperation chapter: posts of chargés de coopération territoriale and the network."""
from __future__ import annotations

import pandas as pd

from helpers import fmt
from helpers.chapters.context import Context, once
from helpers.chapters.registry import ChapterSpec
from helpers.indicators import cooperation as ind
from helpers.lineage import sourced
from helpers.report import charts
from helpers.report.page import marque

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
    return bool(ctx.registers is not None and ctx.registers.illustrative["reunions"])


@once
def annee(ctx: Context, year: int | None = None) -> ind.CoopYear:
    """The cooperation figures at 31 December of the report's year (or of `year`), computed once."""
    return ind.coop_year(ctx.registers, ctx.reference, ctx.year if year is None else year)


@once
def valeurs(ctx: Context) -> dict[str, str]:
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
        "reunions": fmt.nombre(len(k.meetings)),
        "reunions_mot": "rencontre du réseau a été organisée" if len(k.meetings) < 2 else
                        "rencontres du réseau ont été organisées",
        "reunions_elus": fmt.nombre(k.meetings_with_managers_and_elected),
        "reunions_elus_mot": "ouverte" if k.meetings_with_managers_and_elected < 2 else "ouvertes",
        "marque": marque(illustratif(ctx)),
        "marque_reunions": marque(reunions_illustratives(ctx)),
        "epci_avec_poste": fmt.nombre(int((k.by_epci.postes > 0).sum())),
    })
    n, elus = len(k.meetings), k.meetings_with_managers_and_elected
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
    return [
        (v["professionnels"], "professionnels", "" if illus else f"{v['professionnels_var']} en un an", illus),
        (v["etp"], "équivalents temps plein", "" if illus else f"{v['etp_var']} en un an", illus),
        (v["financement_caf_court"], "financement de la Caf", "postes en cours au " + ctx.date_obs, illus),
        (v["reunions"], f"{'rencontres' if len(annee(ctx).meetings) > 1 else 'rencontre'} du réseau en {ctx.year}",
         f"dont {v['reunions_elus']} avec responsables et élus", reunions_illustratives(ctx)),
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
