"""National runs on Dask (--executor dask://): a local scheduler and two workers on 127.0.0.1 build several
départements' reports and EPCI portraits, notebooks executed and PDFs laid out on the workers, and give the files
a local build gives; a task whose worker fails is run once more, then reported in French; results are released on
the cluster as soon as they are written (a national run holds a bounded number of them)."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from helpers import build as build_mod
from helpers import cli
from helpers.report import assemble

distributed = pytest.importorskip("distributed")

RE, AJACCIO = "241700459", "242010056"  # CC de l'Île de Ré (17), CA du Pays Ajaccien (2A)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as lc:
        try:
            yield lc
        finally:
            build_mod.close_worker_pools()  # the workers' warm kernels (stopped with a real worker's process)


def _address(lc) -> str:
    return "dask://" + lc.scheduler_address.removeprefix("tcp://")


def _files(base: Path) -> dict[str, bytes]:
    """Every published file under `base` (through the published links), by relative path."""
    out = {}
    for link in sorted(p for p in base.rglob("*") if p.is_symlink()
                       and not any(part.startswith(".") for part in p.relative_to(base).parts)):  # not the cache
        for f in sorted(link.iterdir()):
            if f.is_file() and not f.name.startswith("."):
                out[f"{link.relative_to(base)}/{f.name}"] = f.read_bytes()
    return out


def _without_build_time(text: str) -> str:
    """The report but for when and how long it was built (annex 3, provenance)."""
    text = re.sub(r"à \d{2}(:| h |\u00a0h\u00a0|\u202fh\u202f)\d{2}(:\d{2})?", "à HEURE", text)  # « à 01 h 05 »
    text = re.sub(r"\d{4}-\d{2}-\d{2}T[0-9:.+]+", "DATE", text)
    text = re.sub(r"en [0-9]+(,[0-9]+)?(\u00a0| )secondes?", "en DURÉE", text)
    return re.sub(r"\"(duree|durée)[^,}]*", "DURÉE", text)


@pytest.mark.e2e
def test_reports_and_portraits_of_two_departements_on_two_workers_are_the_local_ones(tmp_path, cluster, monkeypatch):
    # the workers run in this process (processes=False): where a notebook or a PDF ran is told by its thread
    # (notebooks in the workers' kernel threads, PDFs in their task threads)
    ran_here, pdfs_here, on_workers = [], [], []
    real, real_pdf = build_mod.execute, assemble.write_pdf

    def here(calls: list, prefix: str) -> None:
        name = threading.current_thread().name
        if prefix not in name:
            calls.append(name)
        elif prefix == build_mod.REMOTE_THREADS:
            on_workers.append(name)

    monkeypatch.setattr(build_mod, "execute", lambda *a, **k: (here(ran_here, build_mod.REMOTE_THREADS),
                                                               real(*a, **k))[1])
    monkeypatch.setattr(assemble, "write_pdf", lambda *a, **k: (here(pdfs_here, "Dask-"), real_pdf(*a, **k))[1])

    def both(args: list[str], name: str) -> tuple[dict, dict]:
        local, remote = tmp_path / "local" / name, tmp_path / "dask" / name
        assert cli.main(["-q", *args, "--out", str(local)]) == 0
        ran_here.clear()
        pdfs_here.clear()
        assert cli.main(["-q", *args, "--out", str(remote), "--executor", _address(cluster)]) == 0
        return _files(local), _files(remote)

    # whole reports of two départements (a batch), their PDFs laid out on the cluster
    local, remote = both(["build", "--year", "2023", "--departement", "17,2A", "--chapters", "ctg,cooperation",
                          "--formats", "html,pdf"], "rapports")
    assert sorted(local) == sorted(remote) and any(k.startswith("2A/") for k in local)
    for name in local:
        if name.endswith(".pdf"):
            from io import BytesIO

            from pypdf import PdfReader
            a, b = PdfReader(BytesIO(local[name])), PdfReader(BytesIO(remote[name]))
            assert len(a.pages) == len(b.pages) and a.pages[0].extract_text() == b.pages[0].extract_text(), name
        elif name.endswith((".html", ".json")):
            assert _without_build_time(local[name].decode()) == _without_build_time(remote[name].decode()), name
    assert pdfs_here == [] and ran_here == []  # on the workers, not here

    # the portraits of two départements and the national index
    local, remote = both(["territoires", "--year", "2023", "--departement", "17,2A", "--epci", f"{RE},{AJACCIO}"],
                         "territoires")
    assert sorted(local) == sorted(remote)
    assert "france/2023/index.html" in local and any(k.startswith("2A/2023/242010056-") for k in local)
    for name in local:
        if name.endswith(".html"):
            assert local[name] == remote[name], name
    assert pdfs_here == [] and ran_here == []  # the portraits' notebooks and PDFs on the cluster
    # each worker kept its kernel from one chapter to the next: six notebooks, at most one kernel per worker thread
    kernels = [k for _, k in build_mod._worker_pools.values()]
    assert len(on_workers) == 6 and 1 <= sum(len(k.processes) for k in kernels) <= 2


def _flaky(marker: str) -> str:
    """Fails the first time it runs (as a worker that dies would), then succeeds."""
    p = Path(marker)
    if not p.exists():
        p.write_text("1")
        raise OSError("worker perdu")
    return "fait"


def _always_fails() -> str:
    raise OSError("worker perdu")


def test_a_failed_task_is_run_once_more_then_reported_and_results_are_released(tmp_path, cluster):
    remote = build_mod.Remote(cluster.scheduler_address)
    try:
        assert remote.slots == 2 and remote.resources is None  # two workers of one thread, no « noyau » resource
        fut = remote._submit(_flaky, str(tmp_path / "essai"))
        assert remote._result(fut, "essai") == "fait"  # failed once, run again
        key, fut = fut.key, None
        deadline = time.monotonic() + 10  # the scheduler hears of the release asynchronously
        while key in cluster.scheduler.tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not remote.futures and key not in cluster.scheduler.tasks  # released on the cluster once taken
        with pytest.raises(build_mod.ChapterFailed, match="la tâche a échoué deux fois sur la grappe Dask"):
            remote._result(remote._submit(_always_fails), "Le chapitre « x » a échoué")
        assert not remote.futures
    finally:
        remote.close()
