"""« L'essentiel »: 4 to 6 key messages of the edition, one sentence each with its figure and the
figure or table it comes from, chosen by the rules of indicators/essentiel.py from the chapters'
checked data. A rule the data do not support gives no message."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from helpers import fmt
from helpers.data import series as ind_series
from helpers.indicators import essentiel as rules
from helpers.indicators import portrait as ind

MAX_MESSAGES = 6


@dataclass(frozen=True)
class Message:
    rule: str  # the rule that chose it
    text: str  # one sentence, its figures formatted
    chapter: str  # the chapter it comes from (registry key)
    target: str  # id of the figure or table that shows it
    kind: str  # « figure » or « tableau »
    illustrative: bool = False  # from illustrative data: carries the mark


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _headline(ctx) -> Message | None:
    y = ind.portrait_year(ctx.cafdata, ctx.reference, ctx.year)
    if y is None:
        return None
    t, prev = y.totals, y.previous
    text = f"{fmt.nombre(t.foyers)} foyers allocataires au {fmt.date_longue(dt.date(ctx.year, 12, 31))}"
    if prev is not None and prev.foyers:
        text += f" ({fmt.variation(t.foyers / prev.foyers - 1, 1, True)} en un an)"
    if y.population:
        text += (f" ; avec leur famille, {fmt.nombre(t.personnes)} personnes sont couvertes par la Caf, "
                 f"{fmt.pourcent(y.part_habitants_couverts)} des habitants")
    return Message("effectifs", text + ".", "portrait", "tab-evolution", "tableau", bool(ctx.cafdata.illustrative))


def _change(ctx) -> Message | None:
    t, prev = ind.totals(ctx.cafdata, ctx.year), ind.totals(ctx.cafdata, ctx.year - 1)
    if t is None or prev is None or ctx.cafdata.illustrative:  # nor an evolution
        return None
    c = rules.largest_change(ind.benefit_groups(t, prev))
    if c is None:
        return None
    sens = "hausse" if c.variation > 0 else "baisse"
    text = (f"{c.groupe} : {fmt.variation(c.variation, 1, True)} de foyers bénéficiaires en un an "
            f"({fmt.nombre(c.foyers)} en décembre {ctx.year}), la plus forte {sens} parmi les prestations suivies.")
    return Message("evolution", text, "portrait", "tab-prestations", "tableau")


def _gap(ctx) -> Message | None:
    s = ctx.series
    if s is None:
        return None
    years = [y for y in s.years() if y <= ctx.year]
    if len(years) < 2:
        return None
    g = rules.gap_with_france(s.between(years[0], years[-1]), years[0], years[-1])
    if g is None:
        return None
    region = (f", {fmt.variation(g.region, 1, True)} en {s.region_name}" if g.region is not None else "")
    text = (f"{_cap(ind_series.BENEFIT_NAMES[g.prestation])} : {fmt.variation(g.departement, 1, True)} de foyers "
            f"bénéficiaires dans le département de décembre {g.first} à décembre {g.last}, contre "
            f"{fmt.variation(g.france, 1, True)} en France{region} ; un écart de {fmt.points(g.points)} "
            "avec la France.")
    return Message("ecart-france", text, "portrait", "tab-af-cf", "tableau")


def _epci(ctx) -> Message | None:
    if ctx.cafdata.illustrative:  # illustrative data never feed a ranking
        return None
    table = ind.coverage_by_epci(ctx.cafdata, ctx.reference, ctx.year)
    if table.empty:
        return None
    e = rules.extremes(table, "part_habitants_couverts")
    if e is None:
        return None
    text = (f"Part des habitants couverts par la Caf selon les EPCI : de {fmt.pourcent(e.lowest_value)} "
            f"({e.lowest}) à {fmt.pourcent(e.highest_value)} ({e.highest}), un rapport de "
            f"×{fmt.NBSP}{fmt.nombre(e.ratio, 2)} entre le plus haut et le plus bas.")
    return Message("extremes-epci", text, "portrait", "tab-epci", "tableau")


def _childcare(ctx) -> Message | None:
    from helpers.chapters import ctg

    if not ctg.petite_enfance_disponible(ctx):
        return None
    c = ctx.childcare
    epci = ctx.reference.epci_names(ctx.year)[["siren", "nom"]]
    table = epci.merge(c.level("epci").rename(columns={"code": "siren", "nom": "nom_source"}), on="siren", how="left")
    b = rules.below(table, "txcouv", c.value("france", "FR"))
    if b is None:
        return None
    head = f"Accueil du jeune enfant en {c.year} : "
    ref = f"que la France ({fmt.nombre(b.reference, 1)} places pour 100 enfants de moins de 3 ans)"
    if not b.names:
        text = f"{head}chacun des {fmt.nombre(b.n)} EPCI offre au moins autant de places {ref}."
    elif len(b.names) == 1:
        text = f"{head}1 EPCI sur {fmt.nombre(b.n)} offre moins de places {ref} : {b.names[0]}."
    else:
        text = (f"{head}{fmt.nombre(len(b.names))} EPCI sur {fmt.nombre(b.n)} offrent moins de places {ref} : "
                f"{fmt.liste(b.names)}.")
    return Message("petite-enfance", text, "ctg", "tab-petite-enfance", "tableau")


def _ctg(ctx) -> Message | None:
    from helpers.chapters import ctg

    if not ctg.disponible(ctx):
        return None
    c = ctg.annee(ctx)
    n = len(c.covered)
    who = (f"Les {fmt.nombre(n)} EPCI sont couverts" if n == c.n_epci and n > 1 else
           f"{fmt.nombre(n)} des {fmt.nombre(c.n_epci)} EPCI " + ("est couvert" if n < 2 else "sont couverts"))
    text = (f"{who} par une convention territoriale globale au "
            f"{fmt.date_longue(dt.date(ctx.year, 12, 31))}, soit {fmt.pourcent(c.part_habitants_ctg)} des habitants.")
    return Message("ctg", text, "ctg", "tab-ctg-statut", "tableau", ctg.illustratif(ctx))


# the rules in the order of the page: who and how many; the gaps with France; the contrasts among EPCI;
# the largest change of the year; the conventions
RULES = [("portrait", _headline), ("portrait", _gap), ("portrait", _epci), ("ctg", _childcare),
         ("portrait", _change), ("ctg", _ctg)]


def messages(contexts: dict) -> list[Message]:
    """The key messages the data of `contexts` (chapter -> its context) support, at most MAX_MESSAGES."""
    out = []
    for chapter, rule in RULES:
        ctx = contexts.get(chapter)
        if ctx is None or (chapter == "portrait" and ctx.cafdata is None):
            continue
        m = rule(ctx)
        if m is not None:
            out.append(m)
    return out[:MAX_MESSAGES]


def html(contexts: dict, chapters: list) -> str:
    """The « L'essentiel » page of the report (empty without any message). `chapters`: the built chapters
    (assemble.Chapter): a message links to its figure or table when the chapter shows it, else to the
    chapter; a message of a chapter not built is left out."""
    from markupsafe import Markup

    from helpers.report.page import marque, ref
    from helpers.report.templating import render

    built = {c.key: c for c in chapters}
    rows = []
    for m in messages(contexts):
        ch = built.get(m.chapter)
        if ch is None:
            continue
        if f'id="{m.target}"' in ch.fragment:
            link = Markup(str(ref(m.target, m.kind, m.chapter)))
        else:
            link = Markup('(voir le chapitre <a href="#ch-{}">{}</a>)').format(m.chapter, ch.title)
        rows.append((m.text, Markup(str(marque(m.illustrative))), link))
    return render("essentiel.html.j2", messages=rows) if rows else ""
