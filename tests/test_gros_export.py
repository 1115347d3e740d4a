"""A national-size commune export (issue 13, item 8): streamed through the checks with bounded memory, filtered to
the département, with a progress line on a terminal only. The timing itself is measured by
benchmarks/gros_export.py (a shared test machine makes time assertions flaky)."""
from __future__ import annotations

import importlib.util
import io
import logging
from pathlib import Path

import pytest

from helpers.data import schemas
from helpers.data.cafdata import load_cafdata, read_export, totals
from helpers.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def _benchmark():
    spec = importlib.util.spec_from_file_location("gros_export", ROOT / "benchmarks" / "gros_export.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def national(tmp_path_factory) -> Path:
    """35 000 communes x 5 Decembers, 8 measures (about 10 MB), and the national non-localised rows."""
    path = tmp_path_factory.mktemp("national") / "s_ben_com_f_FR.csv"
    _benchmark().generate(path, communes=35_000, mesures=8)
    return path


def _expected(path: Path, dep: str) -> dict:
    out = {}
    with open(path, encoding="utf-8-sig") as f:
        next(f)
        for line in f:
            month, code, _, foyers = line.split(";", 4)[:4]
            if code.startswith(dep) or not code:
                out[(month, code or None)] = float(foyers)
    return out


@pytest.mark.parametrize("dep", ["17", "2A", "974"])
def test_national_export_read_for_one_departement(national, dep):
    d = read_export(national, "s_ben_com_f", dep)
    got = {(r.dtreffre, r.code if isinstance(r.code, str) else None): r.indfoy_ndur for r in d.frame.itertuples()}
    assert got == _expected(national, dep)
    assert 5 * 5 < len(got) < 5 * 1000  # the département's communes and the national rows, not the 175 000


MEMORY = """
import resource, sys
from pathlib import Path
from helpers.data.cafdata import read_export
small = Path(sys.argv[2])
small.write_text("dtreffre;numcomdo;indfoy_ndur\\n2023-12;17300;5\\n", encoding="utf-8")
read_export(small, "s_ben_com_f", "17")  # imports and first-call set-up out of the measure
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
read_export(Path(sys.argv[1]), "s_ben_com_f", "17")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_memory_stays_far_below_the_size_of_the_file(national, tmp_path):
    """Peak resident memory added by the reading (a fresh process): the file is streamed, never held whole
    (before: about 8 times the file's size)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", MEMORY, str(national), str(tmp_path / "petit.csv")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    added = int(proc.stdout.split()[-1]) * 1024  # ru_maxrss: kB on Linux
    size = national.stat().st_size
    assert added < size, f"{added / 1e6:.0f} Mo de plus pour lire un fichier de {size / 1e6:.0f} Mo"


def test_the_departement_totals_of_a_national_export(national, tmp_path):
    (tmp_path / national.name).symlink_to(national)
    data = load_cafdata(tmp_path, "17")
    t = totals(data, 2023)
    expected = sum(v for (m, c), v in _expected(national, "17").items() if m == "2023-12" and c)
    assert (t.foyers, t.rounded, t.source) == (expected, True, "s_ben_com_f")


def test_other_departements_rows_are_checked_for_structure_month_and_code(tmp_path):
    """Rows of other départements: field count, month and code are checked (named with their line); their counts
    are not read (never used), the département's rows and the national ones are checked cell by cell."""
    head = "dtreffre;numcomdo;nomcom;indfoy_ndur;indnbp_ndur\n"
    ok = "2023-12;17300;La Rochelle;100;200\n2023-12;;;15;30\n"
    p = tmp_path / "s_ben_com_f.csv"
    p.write_text(head + ok + "2023-12;33063;Bordeaux;-5;n.d.\n", encoding="utf-8")
    assert read_export(p, "s_ben_com_f", "17").frame.code.tolist()[0] == "17300"
    for bad, message in [("2023-12;33063;Bordeaux;5\n", "ligne 4 : 4 champs au lieu de 5"),
                         ("2023-1;33063;Bordeaux;5;10\n", "ligne 4, colonne « dtreffre »"),
                         ("2023-12;3306A;Bordeaux;5;10\n", "ligne 4, colonne « numcomdo »"),
                         ("2023-12;;;-15;30\n", "ligne 4, colonne « indfoy_ndur » : un nombre positif ou nul")]:
        p.write_text(head + ok + bad, encoding="utf-8")
        with pytest.raises(DataError) as e:
            read_export(p, "s_ben_com_f", "17")
        assert message in str(e.value)


class Terminal(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty, quiet, shown", [(True, False, True), (False, False, False), (True, True, False)],
                         ids=["terminal", "tube", "terminal-q"])
def test_progress_only_on_a_terminal_and_not_quiet(tty, quiet, shown):
    logger = logging.getLogger("rapport")
    previous = logger.level
    logger.setLevel(logging.ERROR if quiet else logging.INFO)  # setLevel: the logger caches isEnabledFor
    stream = Terminal(tty)
    bar = schemas.Progress("s_ben_com_f_FR.csv", 200_000_000, stream)
    try:
        bar.update(50_000_000, 40_000)
        bar.close()
    finally:
        logger.setLevel(previous)
    text = stream.getvalue()
    if shown:
        assert "lecture de s_ben_com_f_FR.csv : 25\u202f% (40\u202f000 lignes)" in text and text.endswith("\r\033[K")
    else:
        assert text == ""
