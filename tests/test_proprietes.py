"""Properties, checked with Hypothesis on generated inputs (issue 13, item 6).

- Loaders: any valid generated Cafdata export reads back its values (blank = secret, floats and spaced thousands
  accepted, BOM or not, national rows with an empty code kept); a negative count or a short row anywhere is
  refused, naming the right line (and column).
- French formats: `fmt.nombre` never holds an ordinary space, writes a negative with U+2212 and reads back as the
  rounded value; `fmt.pourcent` ends with a narrow no-break space and %; `fmt.date_longue` never breaks (no-break
  spaces only) and reads back as the same date.

Kept fast: 50 examples per property, no deadline (the machine is shared).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import fmt
from helpers.data.cafdata import read_export
from helpers.errors import DataError

FAST = settings(max_examples=50, deadline=None)
MEASURES = ["indfoy_ndur", "indnbp_ndur", "indfoy_rsa"]
HEADER = ";".join(["dtreffre", "numcomdo", "nomcom", *MEASURES])


def count_text(draw, value: int | None) -> str:
    """One way Cafdata (or a spreadsheet on the way) writes a count."""
    if value is None:
        return ""  # secret
    style = draw(st.sampled_from(["int", "float", "spaced", "nnbsp"]))
    if style == "float":
        return f"{value}.0"
    if style in ("spaced", "nnbsp") and value >= 1000:
        sep = " " if style == "spaced" else "\u202f"
        return f"{value:,}".replace(",", sep)
    return str(value)


@st.composite
def exports(draw):
    """(text, rows): a valid s_ben_com_f export (the 17, maybe other départements, maybe national rows) and
    the values each row of the 17 or national must read back as."""
    years = draw(st.lists(st.integers(2012, 2024), min_size=1, max_size=3, unique=True))
    codes = draw(st.lists(st.integers(1, 999).map(lambda n: f"17{n:03d}"), min_size=1, max_size=6, unique=True))
    others = draw(st.lists(st.sampled_from(["33063", "2A004", "97411", "01001"]), max_size=3,
                           unique=True))  # other départements: filtered out
    national = draw(st.booleans())
    rows = []
    for y in years:
        for code in codes + others + ([""] if national else []):
            values = [draw(st.one_of(st.none(), st.integers(0, 400_000).map(lambda n: 5 * n))) for _ in MEASURES]  # counts rounded to 5
            rows.append((f"{y}-12", code or None, values))
    rows = draw(st.permutations(rows))
    quote = draw(st.booleans())  # a spreadsheet may quote every name, with a separator inside
    lines = [";".join([m, c or "", (f'"Commune; {c}"' if quote else f"Commune {c}") if c else "",
                       *(count_text(draw, v) for v in vals)]) for m, c, vals in rows]
    return HEADER + "\n" + "\n".join(lines) + "\n", [r for r in rows if r[1] not in others]


def _write(text: str, bom: bool = False) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="hypo-"))
    path = folder / "s_ben_com_f_17.csv"
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8")
    return path


@FAST
@given(exports(), st.booleans())
def test_any_valid_export_reads_back_its_values(export, bom):
    text, rows = export
    path = _write(text, bom)
    d = read_export(path, "s_ben_com_f", "17")
    assert d.rows_dropped == 0 and d.measures == MEASURES
    got = {(r.dtreffre, None if r.code is None or r.code != r.code else r.code): [getattr(r, m) for m in MEASURES]
           for r in d.frame.astype(object).itertuples()}
    assert len(got) == len(rows)
    for month, code, values in rows:
        read = got[(month, code)]
        for v, r in zip(values, read):
            assert (r != r) if v is None else r == v  # NaN for a secret


@st.composite
def broken(draw):
    """(text, line, message): a valid export with one row made short (any row: the number of fields of every
    row is checked) or one count of a row of the 17 or national made negative (the counts of other
    départements' rows are not read)."""
    text, rows = draw(exports())
    lines = text.splitlines()
    negative = draw(st.booleans())
    ours = [i for i in range(1, len(lines)) if lines[i].split(";")[1][:2] in ("", "17")]
    i = draw(st.sampled_from(ours) if negative else st.integers(1, len(lines) - 1))
    cells = next(csv.reader([lines[i]], delimiter=";"))
    if negative:
        j = draw(st.integers(3, len(cells) - 1))
        cells[j] = "-" + str(draw(st.integers(1, 99_999)))
        message = f"ligne {i + 1}, colonne « {HEADER.split(';')[j]} » : un nombre positif ou nul est attendu"
    else:
        keep = draw(st.integers(1, len(cells) - 1))
        cells = cells[:keep]
        message = f"ligne {i + 1} : {keep} champs au lieu de {len(HEADER.split(';'))}"
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="").writerow(cells)
    lines[i] = out.getvalue()
    return "\n".join(lines) + "\n", message


@FAST
@given(broken())
def test_a_negative_count_or_a_short_row_is_refused_with_its_line(case):
    text, message = case
    with pytest.raises(DataError) as e:
        read_export(_write(text), "s_ben_com_f", "17")
    assert message in str(e.value), str(e.value)


# --- French formats -----------------------------------------------------------------------------------------

def _back(s: str) -> float:
    return float(s.replace(fmt.NNBSP, "").replace(fmt.MINUS, "-").replace(",", "."))


@FAST
@given(st.integers(-10**12, 10**12))
def test_nombre_of_an_integer(n):
    s = fmt.nombre(n)
    assert " " not in s and "\u00a0" not in s and "-" not in s
    assert s.startswith(fmt.MINUS) == (n < 0)
    assert _back(s) == n
    assert all(len(g) == 3 for g in s.lstrip(fmt.MINUS).split(fmt.NNBSP)[1:])  # groups of three digits


@FAST
@given(st.floats(-1e9, 1e9, allow_nan=False), st.integers(0, 3))
def test_nombre_with_decimals(x, d):
    s = fmt.nombre(x, d)
    assert " " not in s and "." not in s and "-" not in s
    if d:
        assert len(s.rsplit(",", 1)[1]) == d
    else:
        assert "," not in s
    assert _back(s) == pytest.approx(round(x, d), abs=10 ** -d)


@FAST
@given(st.floats(-5, 5, allow_nan=False), st.integers(0, 2))
def test_pourcent(part, d):
    s = fmt.pourcent(part, d)
    assert s.endswith(fmt.NNBSP + "%") and " " not in s and "-" not in s
    assert _back(s[:-2]) == pytest.approx(round(100 * part, d), abs=10 ** -d)


MOIS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
        "novembre", "décembre"]


@FAST
@given(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)), st.booleans())
def test_date_longue_reads_back(d, as_text):
    s = fmt.date_longue(d.isoformat() if as_text else d)
    assert " " not in s
    day, month, year = s.split(fmt.NBSP)
    assert (day == "1er") == (d.day == 1)
    assert dt.date(int(year), MOIS.index(month) + 1, 1 if day == "1er" else int(day)) == d
