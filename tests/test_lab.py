"""`make lab`: JupyterLab applies the report's stylesheet to the cells' outputs, and only to them."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers import config, lab


def test_report_rules_scoped_to_the_output_area():
    css = lab.scoped_css((config.STATIC_DIR / "rapport.css").read_text(encoding="utf-8"))
    assert ".jp-OutputArea-output .chiffres-cles" in css and ".jp-OutputArea-output figcaption" in css
    rules = [r for r in css.splitlines() if "{" in r and not r.startswith("@")]
    assert rules and all(r.lstrip().startswith(".jp-OutputArea-output") for r in rules), rules[:3]
    assert "@page" not in css and "@media print" not in css


@pytest.mark.e2e
def test_jupyterlab_serves_the_scoped_stylesheet(tmp_path):
    path = lab.write_custom_css()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(lab.config_dir()), "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                             "--ServerApp.token=essai", "--LabApp.custom_css=True", "--ServerApp.ip=127.0.0.1",
                             *(["--allow-root"] if os.geteuid() == 0 else []),
                             str(config.NOTEBOOKS_DIR)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = ""
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/custom/custom.css?token=essai", timeout=5) as r:
                    body = r.read().decode("utf-8")
                break
            except OSError:
                time.sleep(0.5)
        assert body == path.read_text(encoding="utf-8")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=essai", timeout=10) as r:
            assert "custom/custom.css" in r.read().decode("utf-8")  # the page loads it
    finally:
        proc.terminate()
        proc.wait(timeout=30)
