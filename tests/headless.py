"""Debian's Chromium (/usr/bin/chromium), headless, driven from Python by playwright (its driver is inside the
wheel; no browser is ever downloaded: never `playwright install`). Used by tests/test_browser.py and
tests/test_preview.py."""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000


def require_chromium() -> None:
    """Never skipped: without Chromium the browser checks fail and say what to run."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium absent ({CHROMIUM}) : lancer « make test » en root (il installe le paquet Debian "
                    "chromium), ou en root « apt-get install --no-install-recommends chromium »", pytrace=False)


@contextmanager
def chromium(args: list[str] = (), **options):
    """A persistent context of Debian's Chromium in a fresh, empty profile, removed afterwards."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    profile = tempfile.mkdtemp(prefix="rapport-chromium-profile-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=[*FLAGS, *args], locale="fr-FR",
                timeout=TIMEOUT_MS, **options)
            try:
                context.set_default_timeout(TIMEOUT_MS)
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
