"""Each chapter's results are computed once per context, then read by the text, the key figures,
the tables, the figures' alt texts and Annexe 2."""
from helpers.build import check
from helpers.chapters import cooperation, ctg, portrait
from helpers.indicators import cooperation as ind_coop
from helpers.indicators import ctg as ind_ctg
from helpers.indicators import portrait as ind_portrait
from helpers.params import resolve


def _count(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def test_each_indicator_computed_once_per_context(monkeypatch):
    ctx = check(resolve(2023)).contexts  # the contexts as build.check opens them (a new memo each)
    p_calls = _count(monkeypatch, ind_portrait, "portrait_year")
    c_calls = _count(monkeypatch, ind_ctg, "ctg_year")
    k_calls = _count(monkeypatch, ind_coop, "coop_year")
    for _ in range(2):  # the notebook asks the same things several times
        portrait.valeurs(ctx["portrait"]), portrait.chiffres_cles(ctx["portrait"])
        portrait.kept_values(ctx["portrait"]), portrait.tableau_evolution(ctx["portrait"])
        ctg.valeurs(ctx["ctg"]), ctg.chiffres_cles(ctx["ctg"]), ctg.kept_values(ctx["ctg"])
        ctg.tableau_statut(ctx["ctg"]), ctg.tableau_thematiques(ctx["ctg"])
        cooperation.valeurs(ctx["cooperation"]), cooperation.chiffres_cles(ctx["cooperation"])
        cooperation.tableau_types(ctx["cooperation"]), cooperation.tableau_epci(ctx["cooperation"])
    # portrait: the year (once; build.check had already computed it before the counter)
    assert len(p_calls) <= 1
    assert sorted(a[2] for a in c_calls) == [2022, 2023][: len(c_calls)] and len(c_calls) <= 2
    assert len(k_calls) <= 2


def test_a_caller_may_add_to_a_result_without_changing_it_for_the_others():
    ctx = check(resolve(2023), ["portrait"]).contexts["portrait"]
    v = portrait.valeurs(ctx)
    v["ajout"] = "x"
    assert "ajout" not in portrait.valeurs(ctx)


def test_kernels_take_the_context_checked_by_the_build_instead_of_parsing_again(tmp_path, monkeypatch):
    from helpers.chapters import context

    checked = check(resolve(2023), ["cooperation"]).contexts["cooperation"]
    path = context.save_prepared(checked, tmp_path)
    monkeypatch.setattr(context, "load_for", lambda *a, **k: (_ for _ in ()).throw(AssertionError("relu")))
    ctx = context.open_chapter("cooperation", 2023, prepared=str(path))
    assert ctx.registers.postes.equals(checked.registers.postes) and ctx.page is not None
    # another chapter, or other parameters: the prepared context is not used
    monkeypatch.undo()
    other = context.open_chapter("cooperation", 2022, prepared=str(path))
    assert other.year == 2022
    assert context.open_chapter("ctg", 2023, prepared=str(path)).chapter == "ctg"
