import datetime as dt

from helpers import fmt

NNBSP = "\u202f"


def test_thousands_use_narrow_no_break_space():
    assert fmt.nombre(121067) == f"121{NNBSP}067"
    assert fmt.nombre(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert fmt.nombre(999) == "999"


def test_decimal_comma():
    assert fmt.nombre(48.6, 1) == "48,6"
    assert fmt.nombre(48.0, 1) == "48,0"
    assert fmt.nombre(float("nan")) == "n.d."


def test_percent_has_no_break_space():
    assert fmt.pourcent(0.96) == f"96{NNBSP}%"
    assert fmt.pourcent(0.4861, 1) == f"48,6{NNBSP}%"


def test_dates_in_french_never_broken():
    assert fmt.date_longue(dt.date(2023, 12, 31)) == "31\u00a0décembre\u00a02023"
    assert fmt.date_longue(dt.date(2024, 1, 1)) == "1er\u00a0janvier\u00a02024"
    assert fmt.date_longue("2022-12-15").replace("\u00a0", " ") == "15 décembre 2022"
    assert fmt.mois_annee("2016-06") == "juin\u00a02016"


def test_amounts():
    assert fmt.montant(1_093_800) == f"1,1{NNBSP}M€"
    assert fmt.montant_long(1_093_800) == "1,1\u00a0million d’euros"
    assert fmt.montant_long(2_300_000) == "2,3\u00a0millions d’euros"
    assert fmt.montant(350_000) == f"350{NNBSP}k€"


def test_signed_changes_use_real_minus():
    assert fmt.variation(0.012, 1, pourcentage=True) == f"+1,2{NNBSP}%"
    assert fmt.variation(-350) == "\u2212350"
    assert fmt.variation(0) == "0"
    assert fmt.points(-0.015) == f"\u22121,5{NNBSP}point"
    assert fmt.points(0.032) == f"+3,2{NNBSP}points"


def test_plural_from_two():
    assert fmt.pluriel(1, "convention") == "1 convention"
    assert fmt.pluriel(5, "convention") == "5 conventions"


def test_ordinal_has_a_superscript_ending():
    assert fmt.ordinal(1) == "1\u1d49\u02b3" and fmt.ordinal(13) == "13\u1d49"


def test_one_unit_for_a_table_of_amounts():
    unit = fmt.unite_montants([1_100_000, 275_000, 0])
    assert unit == ("k€", 1e3)
    assert [fmt.montant_en(x, unit) for x in (1_100_000, 275_000)] == [f"1{NNBSP}100", "275"]
    assert fmt.unite_montants([1_200_000, 3_400_000])[0] == "M€"
    assert fmt.montant_en(1_200_000, fmt.unite_montants([1_200_000])) == "1,2"
    assert fmt.unite_montants([980, 275_000]) == ("€", 1.0)
