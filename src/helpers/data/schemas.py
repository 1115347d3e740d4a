"""Schemas of every input file, checked on load with pandera.

Files are read as text first and checked cell by cell, so that a problem names the file, the
line (header = line 1) and the column; types are converted only once the file is valid.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from helpers.errors import DataError, Problem, display_path

RE_INT = r"^-?\d+(\.0+)?$"  # counts: `37793` or `37793.0`
RE_NUM = r"^-?\d+([.,]\d+)?$"
RE_DATE = r"^\d{4}-\d{2}-\d{2}$"
RE_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def _is_date(s: pd.Series) -> pd.Series:
    def ok(v: str) -> bool:
        try:
            dt.date.fromisoformat(v)
            return True
        except ValueError:
            return False

    return s.map(ok)


def date_col(required: bool = True, nullable: bool = False) -> pa.Column:
    checks = [pa.Check(_is_date, error="date invalide (format attendu AAAA-MM-JJ, par exemple 2023-12-31)",
                       ignore_na=True)]
    return pa.Column(str, checks, required=required, nullable=nullable)


def num_col(min_value: float | None = 0, integer: bool = False, nullable: bool = False) -> pa.Column:
    pattern = RE_INT if integer else RE_NUM
    what = "un nombre entier" if integer else "un nombre"
    checks = [pa.Check.str_matches(pattern, error=f"{what} est attendu", ignore_na=True)]
    if min_value is not None:
        checks.append(pa.Check(
            lambda s, m=min_value: pd.to_numeric(s.str.replace(",", ".", regex=False), errors="coerce").fillna(m) >= m,
            error="la valeur doit être positive ou nulle" if min_value == 0 else f"la valeur doit être au moins {min_value}",
            ignore_na=True))
    return pa.Column(str, checks, nullable=nullable)


def text_col(pattern: str | None = None, error: str = "format invalide", nullable: bool = False,
             isin: list[str] | None = None, required: bool = True) -> pa.Column:
    checks = [pa.Check(lambda s: s.str.strip().str.len() > 0, error="valeur vide", ignore_na=True)]
    if pattern:
        checks.append(pa.Check.str_matches(pattern, error=error, ignore_na=True))
    if isin:
        checks.append(pa.Check.isin(isin, error=f"valeur inconnue (valeurs permises : {', '.join(isin)})",
                                    ignore_na=True))
    return pa.Column(str, checks, nullable=nullable, required=required)


def _sniff_binary(path: Path, label: str) -> None:
    """Refuse, with what the file really is, an input that is not a text CSV."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04"):
        raise DataError([Problem(label, "ce fichier est un classeur Excel (.xlsx) ou une archive zip, pas un "
                                        "fichier CSV : enregistrez-le au format CSV (UTF-8, séparateur « ; »)")])
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError([Problem(label, "ce fichier est un classeur Excel ancien (.xls), pas un fichier CSV : "
                                        "enregistrez-le au format CSV (UTF-8, séparateur « ; »)")])
    if head.startswith(b"\x1f\x8b"):
        raise DataError([Problem(label, "ce fichier est compressé (gzip) : décompressez-le d’abord")])


def _check_text(path: Path, label: str, sep: str) -> None:
    """Encoding, header and number of fields of every line, with the line number."""
    import csv

    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError([Problem(label, "le fichier n’est pas en UTF-8 (encodage Windows ou Latin-1 probable : "
                                        "enregistrez-le en UTF-8)", row=line)])
    if "\x00" in text:
        raise DataError([Problem(label, "le fichier contient des octets nuls : ce n’est pas un fichier texte CSV")])
    reader = csv.reader(text.splitlines(), delimiter=sep)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise DataError([Problem(label, "fichier vide")])
    names = [h.strip() for h in header]
    seen: set[str] = set()
    problems = []
    for name in names:
        if name in seen:
            problems.append(Problem(label, "colonne présente deux fois dans l’en-tête", row=1, column=name))
        seen.add(name)
    width = len(header)
    for i, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != width:
            problems.append(Problem(label, f"{len(row)} champs au lieu de {width} (ligne tronquée ou séparateur en "
                                           "trop)", row=i))
            if len(problems) >= 30:
                break
    if problems:
        raise DataError(problems)


def read_text_csv(path: Path, sep: str = ";", strict: bool = False) -> pd.DataFrame:
    """Read a CSV as text only (UTF-8 with or without BOM); empty cells become NA.
    `strict`: also refuse a repeated column name and any line whose number of fields differs
    from the header's (pandas would pad a truncated last line with empty cells)."""
    label = display_path(path)
    if not Path(path).is_file():
        raise DataError([Problem(label, "fichier introuvable")])
    _sniff_binary(path, label)
    if strict:
        _check_text(path, label, sep)
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, encoding="utf-8-sig", keep_default_na=False,
                         na_values=[""], skipinitialspace=False)
    except UnicodeDecodeError as exc:
        raise DataError([Problem(label, f"le fichier n’est pas en UTF-8 (octet {exc.start})")])
    except pd.errors.ParserError as exc:
        raise DataError([Problem(label, f"fichier CSV mal formé ({exc})")])
    except pd.errors.EmptyDataError:
        raise DataError([Problem(label, "fichier vide")])
    df.columns = [str(c).strip() for c in df.columns]
    if len(df.columns) == 1 and sep not in df.columns[0] and ("," in df.columns[0] or "\t" in df.columns[0]):
        raise DataError([Problem(label, f"séparateur « {sep} » attendu (le fichier semble utiliser un autre séparateur)")])
    for c in df.columns:
        df[c] = df[c].str.strip()
    return df


def validate(df: pd.DataFrame, schema: pa.DataFrameSchema, path: Path | str) -> list[Problem]:
    """Problems found by the schema, with line numbers of the file (header = line 1)."""
    label = display_path(path)
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        problems = []
        fc = exc.failure_cases
        for rec in fc.itertuples(index=False):
            if rec.check == "column_in_dataframe":
                problems.append(Problem(label, "colonne obligatoire absente", column=str(rec.failure_case)))
            elif rec.check == "not_nullable":
                problems.append(Problem(label, "valeur obligatoire absente", row=int(rec.index) + 2,
                                        column=str(rec.column)))
            elif rec.index is None or pd.isna(rec.index):
                problems.append(Problem(label, str(rec.check), column=str(rec.column)))
            else:
                shown = "" if rec.failure_case is None or pd.isna(rec.failure_case) else f" (valeur « {rec.failure_case} »)"
                problems.append(Problem(label, f"{rec.check}{shown}", row=int(rec.index) + 2,
                                        column=None if rec.column is None else str(rec.column)))
        problems.sort(key=lambda p: (p.row or 0, p.column or ""))
        return problems
    return []


def to_number(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.str.replace(",", ".", regex=False), errors="coerce")


def to_date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
