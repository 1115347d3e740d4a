"""Every chapter's figures for 2022, 2023 and 2024 against the golden files, without kernels: a change
of rule shows as a diff of tests/golden/*.json (refreshed on purpose with `make golden`)."""
import json

import pytest
from snapshot import YEARS, path, snapshot


def _flat(d, prefix=""):
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _flat(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix, d


@pytest.mark.parametrize("year", YEARS)
def test_chapter_figures_match_the_golden_file(year):
    expected = json.loads(path(year).read_text(encoding="utf-8"))
    got = snapshot(year)
    diff = [f"{k} : attendu {a!r}, obtenu {b!r}" for (k, a), (_, b) in zip(sorted(_flat(expected)), sorted(_flat(got)))
            if a != b]
    assert got == expected, f"{year} (make golden pour accepter le changement) :\n" + "\n".join(diff[:30])
