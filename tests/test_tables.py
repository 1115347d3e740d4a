"""Tables: a total row where a table splits a headline figure, with the gap explained; rows that
never split across pages; checksums that never wrap a lone character."""
from __future__ import annotations

import re

import pytest

from helpers import config, fmt
from helpers.chapters import portrait
from helpers.chapters.context import open_chapter
from helpers.report.annexes import breakable


@pytest.fixture(scope="module")
def ctx():
    return open_chapter("portrait", 2023)


def test_epci_table_ends_with_its_total(ctx):
    out, _, df = portrait.tableau_epci(ctx)
    total = out.iloc[-1]
    assert total.iloc[0] == f"Ensemble des {len(df)} EPCI"
    assert total["Foyers allocataires"] == fmt.nombre(df.indfoy_ndur.sum())
    assert total["Personnes couvertes"] == fmt.nombre(df.indnbp_ndur.sum())
    assert len(out) == len(df) + 1


def test_epci_note_relates_the_total_to_the_headline(ctx):
    note = portrait.note_epci(ctx)
    t = portrait.annee(ctx).totals
    assert fmt.nombre(t.foyers) in note and fmt.nombre(t.personnes) in note
    assert "égale" in note or "s’écarte" in note


def test_checksum_breaks_only_between_groups_of_16():
    sha = "0123456789abcdef" * 4
    pieces = breakable(sha).split("<wbr/>")
    assert pieces == ["0123456789abcdef"] * 4
    url = "https://data.caf.fr/api/explore/v2.1/catalog/datasets/s_ben_com_f/exports/csv?where=dep%3D17"
    assert re.sub("<wbr/>", "", breakable(url, "adresse")) == url.replace("&", "&amp;")


def test_rows_never_split_and_checksums_never_break_anywhere():
    css = (config.STATIC_DIR / "rapport.css").read_text(encoding="utf-8")
    assert re.search(r"(^|\n)tr \{[^}]*break-inside: avoid", css)
    assert "break-all" not in css.split(".annexe .somme")[1].split("}")[0]
