"""`rapport preview`: a local server that rebuilds what changed and reloads the page by itself; a broken
input shows a French banner above the last good version; Ctrl-C leaves no process and no folder."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from headless import chromium, require_chromium

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode("utf-8")


def _wait_for(url: str, text: str, seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            page = _get(url)
            if text in page:
                return page
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"« {text} » absent de {url} après {seconds} s")


def _children(pid: int) -> list[str]:
    return [" ".join(p.info["cmdline"] or [p.info["name"]]) for p in psutil.process_iter(["ppid", "cmdline", "name"])
            if p.info["ppid"] == pid]


def test_preview_rebuilds_reloads_shows_errors_and_stops_cleanly(tmp_path):
    require_chromium()
    registers = tmp_path / "registres"
    shutil.copytree(ROOT / "data" / "registers", registers)
    meetings = registers / "17" / "reunions_reseau.csv"
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "helpers.cli", "preview", "--year", "2023", "--chapters",
                             "cooperation", "--no-browser", "--port", str(port), "--set", f"registers_dir={registers}"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/rapport-2023.html"
    try:
        page = _wait_for(url, "rencontres du réseau", 180)
        assert "EventSource" in page  # served with the reload script …
        served = Path(tmp_path).glob("rapport-apercu-*/apercu/rapport-2023.html")
        assert all("EventSource" not in p.read_text(encoding="utf-8") for p in served)  # … the file has none
        count = int(re.search(r"(\d+) rencontres du réseau ont été organisées", page).group(1))

        # the page, open in Chromium, shows the new count without a manual reload
        with chromium() as context:
            browser = context.new_page()
            loads = []
            browser.on("load", lambda _: loads.append(1))
            browser.goto(url, wait_until="load")
            loads.clear()
            with open(meetings, "a", encoding="utf-8") as f:
                f.write("2023-11-30;regroupement du réseau;chargés de coopération;Rencontre ajoutée pendant "
                        "l’aperçu;illustratif (test)\n")
            browser.wait_for_function("(text) => document.body && document.body.innerText.includes(text)",
                                      arg=f"{count + 1} rencontres du réseau", timeout=120_000, polling=200)
            assert loads  # the page reloaded by itself

        # a broken register: a French banner, and the last good version below it
        text = meetings.read_text(encoding="utf-8")
        meetings.write_text(text.replace("2023-11-30", "2023-02-30"), encoding="utf-8")
        page = _wait_for(url, "La dernière reconstruction a échoué", 120)
        assert "reunions_reseau.csv" in page and "date" in page and f"{count + 1} rencontres du réseau" in page
        meetings.write_text(text, encoding="utf-8")  # fixed: the banner goes on the next rebuild
        end = time.monotonic() + 120
        while "La dernière reconstruction a échoué" in _get(url) and time.monotonic() < end:
            time.sleep(0.5)
        assert "La dernière reconstruction a échoué" not in _get(url)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            log, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 130, log
    assert "Interrompu (SIGINT)" in log and "Traceback" not in log
    assert not _children(proc.pid)
    assert not list(Path(tmp_path).glob("rapport-apercu-*")) and not list(Path(tmp_path).glob("rapport-noyaux-*"))
    assert re.search(r"reconstruit en \d+,\d s", log)
