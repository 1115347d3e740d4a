"""French formatting of every number, amount and date the report prints (Babel, locale fr_FR).

Thousands are separated by a narrow no-break space (U+202F), decimals by a comma, and a
no-break space stands before % and units, as Babel's CLDR data for French prescribe.
"""
from __future__ import annotations

import datetime as dt
import math
import re

from babel.dates import format_date
from babel.numbers import format_decimal

LOCALE = "fr_FR"
NNBSP = "\u202f"  # narrow no-break space: thousands, and before % and €
NBSP = "\u00a0"  # no-break space: inside dates
MINUS = "\u2212"  # typographic minus sign


def _isnan(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def nombre(x, decimales: int = 0) -> str:
    """`121067` -> `121 067`; `48.6` with 1 decimal -> `48,6`."""
    if _isnan(x):
        return "n.d."
    pattern = "#,##0" + ("." + "0" * decimales if decimales else "")
    s = format_decimal(round(float(x), decimales), format=pattern, locale=LOCALE)
    return s.replace("-", MINUS).replace("\u00a0", NNBSP)


def pourcent(part, decimales: int = 0) -> str:
    """A share (0.96) as `96 %`."""
    if _isnan(part):
        return "n.d."
    return f"{nombre(100 * float(part), decimales)}{NNBSP}%"


def variation(x, decimales: int = 0, pourcentage: bool = False) -> str:
    """A signed change: `+1,2 %`, `−350`, `0`. With `pourcentage`, x is a ratio (0.012)."""
    if _isnan(x):
        return "n.d."
    value = 100 * float(x) if pourcentage else float(x)
    if round(value, decimales) == 0:
        body = nombre(0, decimales)
        return f"{body}{NNBSP}%" if pourcentage else body
    sign = "+" if value > 0 else MINUS
    body = nombre(abs(value), decimales)
    return f"{sign}{body}{NNBSP}%" if pourcentage else f"{sign}{body}"


def points(x, decimales: int = 1) -> str:
    """A change of a share, in percentage points: `+0,4 point`, `−1,5 point`."""
    if _isnan(x):
        return "n.d."
    value = 100 * float(x)
    unit = "point" if abs(round(value, decimales)) < 2 else "points"
    return f"{variation(value, decimales)}{NNBSP}{unit}"


def montant(euros, decimales: int = 1) -> str:
    """Short amount: `1,1 M€`, `350 k€`, `980 €`."""
    if _isnan(euros):
        return "n.d."
    e = float(euros)
    if abs(e) >= 1e6:
        return f"{nombre(e / 1e6, decimales)}{NNBSP}M€"
    if abs(e) >= 1e4:
        return f"{nombre(e / 1e3, 0)}{NNBSP}k€"
    return f"{nombre(e, 0)}{NNBSP}€"


def montant_long(euros, decimales: int = 1) -> str:
    """Amount in words: `1,1 million d'euros`, `2,3 millions d'euros`, `350 000 euros`."""
    if _isnan(euros):
        return "n.d."
    e = float(euros)
    if abs(e) >= 1e6:
        m = round(e / 1e6, decimales)
        unit = "million" if abs(m) < 2 else "millions"
        return f"{nombre(m, decimales)}\u00a0{unit} d’euros"
    return f"{nombre(e, 0)}\u00a0euros"


def date_longue(d: dt.date | str) -> str:
    """`2023-12-31` -> `31 décembre 2023` (no-break spaces: a date never breaks across lines);
    the first of a month is `1er`."""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    text = format_date(d, format="d MMMM y", locale=LOCALE)
    if d.day == 1:
        text = "1er" + text[1:]
    return text.replace(" ", NBSP)


def mois_annee(d: dt.date | str) -> str:
    """`décembre 2023` (also from `2023-12`)."""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d + "-01" if len(d) == 7 else d)
    return format_date(d, format="MMMM y", locale=LOCALE).replace(" ", NBSP)


def pluriel(n, singulier: str, pluriel_: str | None = None) -> str:
    """`1 convention`, `5 conventions` (French: plural from 2)."""
    word = singulier if abs(float(n)) < 2 else (pluriel_ or singulier + "s")
    return f"{nombre(n)} {word}"


def liste(items: list[str]) -> str:
    """« a », « a et b », « a, b et c »."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} et {items[-1]}"


def message(text: str) -> str:
    """French typography for a message of the command line: a no-break space before « : », a
    narrow no-break space before « ; », « ! » and « ? », no-break spaces inside guillemets. Idempotent."""
    text = re.sub(r" (?=:)", NBSP, text)
    text = re.sub(r" (?=[;!?](\s|$))", NNBSP, text)
    return text.replace("« ", f"«{NBSP}").replace(" »", f"{NBSP}»")


SUP_E, SUP_R = "\u1d49", "\u02b3"  # modifier letters: a superscript e and r that survive escaping and alt text


def ordinal(n: int) -> str:
    """A rank with its superscript ending, the same in every text: `1ᵉʳ`, `13ᵉ`."""
    n = int(n)
    return f"{n}{SUP_E}{SUP_R}" if n == 1 else f"{n}{SUP_E}"


def unite_montants(values) -> tuple[str, float]:
    """One unit for a whole column or table of amounts: (« M€ », 1e6) when every non-zero amount
    reaches a million, else (« k€ », 1e3) when every one reaches ten thousand, else (« € », 1)."""
    nonzero = [abs(float(v)) for v in values if not _isnan(v) and float(v) != 0]
    if nonzero and min(nonzero) >= 1e6:
        return "M€", 1e6
    if nonzero and min(nonzero) >= 1e4:
        return "k€", 1e3
    return "€", 1.0


def montant_en(euros, unite: tuple[str, float]) -> str:
    """An amount in the unit chosen for its table, without the unit (in the column header):
    `1 100` (k€), `275` (k€), `1,1` (M€)."""
    if _isnan(euros):
        return "n.d."
    symbol, divisor = unite
    return nombre(float(euros) / divisor, 1 if symbol == "M€" else 0)


def nom_court(name: str) -> str:
    """A name set inside brackets of a sentence, without its own bracketed acronym (« CC Vallée des
    Baux-Alpilles (CC VBA) » -> « CC Vallée des Baux-Alpilles »): no doubled brackets."""
    import re

    return re.sub(r"\s*\([^()]*\)$", "", str(name)) or str(name)


def slug(text: str, ligatures: bool = False) -> str:
    """`cc-de-l-ile-de-re`: a name for anchors (ASCII, lower case, hyphens); `ligatures`: « œ » and « æ » spelt
    out (file names: « coeur », where an anchor drops them)."""
    import unicodedata

    text = str(text)
    if ligatures:
        text = text.replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae").replace("Æ", "Ae")
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", t).strip("-")[:60] or "section"
