"""Schemas of every input file, checked on load with pandera.

Files are read as text first and checked cell by cell, so that a problem names the file, the
line (header = line 1) and the column; types are converted only once the file is valid.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from helpers.errors import DataError, Problem, display_path

# ASCII digits only: Python's `\d`, `int()` and `float()` also accept other scripts' digits (Arabic-Indic…).
RE_INT = r"^-?[0-9]+(\.0+)?$"  # counts: `37793` or `37793.0`; never `24.710` nor `12.5`
RE_NUM = r"^-?[0-9]+([.,][0-9]+)?$"
RE_AMOUNT = r"^-?[0-9]+([.,][0-9]{1,2})?$"  # euros: at most two decimals (`23.700` is not 23,70 €)
RE_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
RE_MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _is_date(s: pd.Series) -> pd.Series:
    def ok(v: str) -> bool:
        if not re.fullmatch(RE_DATE, v):  # fromisoformat would take other scripts' digits
            return False
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


def num_col(min_value: float | None = 0, integer: bool = False, nullable: bool = False,
            amount: bool = False) -> pa.Column:
    pattern = RE_INT if integer else RE_AMOUNT if amount else RE_NUM
    what = ("un nombre entier (chiffres 0 à 9, sans décimale)" if integer else
            "un montant en euros (au plus deux décimales)" if amount else "un nombre (chiffres 0 à 9)")
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
    check_header(header or [], label)
    problems = []
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
    else:  # a column named twice would be read as « name » and « name.1 », one of them silently ignored
        import csv

        try:
            with open(path, encoding="utf-8-sig", newline="") as f:
                header = next(csv.reader([f.readline()], delimiter=sep), [])
        except UnicodeDecodeError:
            header = []  # refused below, with the offset
        names = [h.strip() for h in header]
        doubles = sorted({n for n in names if n and names.count(n) > 1})
        if doubles:
            raise DataError([Problem(label, "colonne présente deux fois dans l’en-tête", row=1, column=n)
                             for n in doubles])
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



# --- streaming (large exports) -----------------------------------------------------------------------------

PROGRESS_MIN_BYTES = 2_000_000  # smaller files are read in well under a second: no progress line


class Progress:
    """A progress line on stderr, only when stderr is a terminal and the command is not quiet (`-q`): the
    percentage of the file read and the lines seen, rewritten in place at most 5 times a second, erased at
    the end. Anywhere else (a pipe, a log, a notebook's kernel) it writes nothing."""

    def __init__(self, label: str, total: int, stream=None):
        import logging
        import sys

        self.stream = stream if stream is not None else sys.stderr
        self.label, self.total = label, max(total, 1)
        try:
            tty = self.stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        self.on = tty and total >= PROGRESS_MIN_BYTES and logging.getLogger("rapport").isEnabledFor(logging.INFO)
        self.last = 0.0
        self.shown = False

    def update(self, done: int, lines: int) -> None:
        import time

        now = time.monotonic()
        if not self.on or now - self.last < 0.2:
            return
        self.last = now
        pct = min(100, 100 * done // self.total)
        n = f"{lines:,}".replace(",", "\u202f")
        self._write(f"\rrapport : lecture de {self.label} : {pct}\u202f% ({n} lignes)")

    def close(self) -> None:
        if self.shown:
            self._write("\r\033[K")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
            self.shown = True
        except (OSError, ValueError):  # the terminal is gone (SIGHUP): reading goes on
            self.on = False


def check_header(header: list[str], label: str) -> list[str]:
    """Names of the header's fields; an empty header or a repeated name is refused (line 1)."""
    if not header or not any(h.strip() for h in header):
        raise DataError([Problem(label, "fichier vide")])
    names = [h.strip() for h in header]
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names, start=1):
        if not name:  # its cells would be read under no name, or dropped without a word
            problems.append(Problem(label, f"la colonne {i} de l’en-tête n’a pas de nom", row=1))
        elif name in seen:
            problems.append(Problem(label, "colonne présente deux fois dans l’en-tête", row=1, column=name))
        seen.add(name)
    if problems:
        raise DataError(problems)
    return names


@dataclass
class Streamed:
    """What `stream_text_csv` read: the rows kept (text, index = line number - 2, as `validate` expects), how
    many data lines the file has in all, and what `seen` returned for every line."""

    frame: pd.DataFrame
    lines: int
    seen: set = field(default_factory=set)


def stream_text_csv(path: Path, sep: str = ";", filtre=None) -> Streamed:
    """Read a large CSV line by line, with bounded memory, keeping only the rows `keep` accepts.

    Every line of the file is checked for what can be checked without parsing all its cells: UTF-8, no nul
    byte, the header (present, no repeated name), the number of fields (quotes honoured). `filtre(names)`,
    called once with the header's names, returns (keep, n): `keep(values)` receives the first `n` fields of
    each row (text, not stripped) and returns (kept, tag); `tag`, when not None, is collected in
    `Streamed.seen` (for instance the département of each row). Only the kept rows are parsed into the frame,
    whose cells the caller then checks one by one. Without `filtre` every row is kept (the same result as
    `read_text_csv(strict=True)`). A progress line is shown on a terminal for large files."""
    import csv
    import io

    label = display_path(path)
    if not Path(path).is_file():
        raise DataError([Problem(label, "fichier introuvable")])
    _sniff_binary(path, label)
    size = Path(path).stat().st_size
    progress = Progress(Path(path).name, size)
    bsep = sep.encode()
    quote = b'"'

    def fields(line: bytes) -> list[str]:
        return next(csv.reader([line.decode("utf-8")], delimiter=sep), [])

    kept_lines: list[str] = []
    kept_rows: list[int] = []
    seen: set = set()
    problems: list[Problem] = []
    done = 0
    n = 0
    try:
        with open(path, "rb") as f:
            first = f.readline()
            done += len(first)
            if first.startswith(b"\xef\xbb\xbf"):
                first = first[3:]
            try:
                header_text = first.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError([Problem(label, "le fichier n’est pas en UTF-8 (encodage Windows ou Latin-1 probable : "
                                                "enregistrez-le en UTF-8)", row=1)]) from None
            if "\x00" in header_text:
                raise DataError([Problem(label, "le fichier contient des octets nuls : ce n’est pas un fichier texte "
                                                "CSV")])
            if "\r" in header_text.rstrip("\r\n"):  # old Mac line ends: one physical line, read the slow way
                return Streamed(read_text_csv(path, sep, strict=True), -1)
            header = next(csv.reader([header_text.rstrip("\r\n")], delimiter=sep), [])
            names = check_header(header, label)
            width = len(names)
            if width == 1 and ("," in names[0] or "\t" in names[0]):
                raise DataError([Problem(label, f"séparateur « {sep} » attendu (le fichier semble utiliser un autre "
                                                "séparateur)")])
            keep, last = filtre(names) if filtre is not None else (None, 0)
            for lineno, line in enumerate(f, start=2):
                done += len(line)
                if not (lineno & 0x3FFF):
                    progress.update(done, lineno)
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                n += 1
                if b"\x00" in line:
                    raise DataError([Problem(label, "le fichier contient des octets nuls : ce n’est pas un fichier "
                                                    "texte CSV", row=lineno)])
                try:
                    if quote in line:
                        row = fields(line)
                        count = len(row)
                        values = row[:last]
                    else:
                        count = line.count(bsep) + 1
                        values = line.split(bsep, last)[:last] if last else []
                        values = [v.decode("utf-8") for v in values]
                    if count != width:
                        problems.append(Problem(label, f"{count} champs au lieu de {width} (ligne tronquée ou "
                                                       "séparateur en trop)", row=lineno))
                        if len(problems) >= 30:
                            break
                        continue
                    if keep is not None:
                        ok, tag = keep(values)
                        if tag is not None:
                            seen.add(tag)
                        if not ok:
                            line.decode("utf-8")  # UTF-8 is checked on every line, kept or not
                            continue
                    kept_lines.append(line.decode("utf-8"))
                    kept_rows.append(lineno)
                except UnicodeDecodeError:
                    raise DataError([Problem(label, "le fichier n’est pas en UTF-8 (encodage Windows ou Latin-1 "
                                                    "probable : enregistrez-le en UTF-8)", row=lineno)]) from None
    finally:
        progress.close()
    if problems:
        raise DataError(problems)
    text = header_text.rstrip("\r\n") + "\n" + "\n".join(kept_lines) + ("\n" if kept_lines else "")
    del kept_lines
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                         skipinitialspace=False, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        raise DataError([Problem(label, f"fichier CSV mal formé ({exc})")]) from None
    if len(df) != len(kept_rows):
        raise DataError([Problem(label, "fichier CSV mal formé (guillemets non refermés ?)")])
    df.columns = names
    df.index = pd.Index([r - 2 for r in kept_rows], dtype="int64")
    # Cells are stripped as read_text_csv does; one search over the text first spares the stripping of a
    # national export's hundreds of columns when no cell has a space at either end (the usual case).
    if '"' in text or re.search(r"[^\S\n];|;[^\S\n]|^[^\S\n]|[^\S\n]$", text, re.MULTILINE):
        for c in df.columns:
            df[c] = df[c].str.strip()
    return Streamed(df, n, seen)


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
