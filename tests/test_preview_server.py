"""Issue 24, item 7: the preview's server serves only its page to its browser (no kernel, no build: the server alone,
on a folder holding a report page). Host checked (403), no CORS header, malformed paths answered 400, a request
never finished disconnected, concurrent clients bounded, and 200 concurrent connections on loopback all served."""
from __future__ import annotations

import http.client
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import preview


@pytest.fixture
def server(tmp_path, monkeypatch):
    root = tmp_path / "apercu"
    root.mkdir()
    (root / "rapport-2023.html").write_text("<html><body><p>Le rapport</p></body></html>", encoding="utf-8")
    (root / "provenance.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(preview, "REQUEST_TIMEOUT_S", 2)
    srv = preview.make_server(root, preview.State(), 0, max_clients=8)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.stopping = True
    srv.shutdown()
    srv.server_close()


def request(srv, path: str, host: str | None = None, method: str = "GET") -> tuple[int, dict, bytes]:
    port = srv.server_address[1]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        c.endheaders()
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def test_the_page_is_served_to_its_own_host_only(server):
    port = server.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        status, headers, body = request(server, "/rapport-2023.html", host)
        assert status == 200 and b"Le rapport" in body, host
        assert not any(k.startswith("access-control-") for k in headers)  # no CORS header
    for host in ("evil.example:%d" % port, "127.0.0.1", f"127.0.0.1:{port + 1}", "", f"evil.example:{port}@x"):
        for method in ("GET", "HEAD"):
            status, headers, body = request(server, "/rapport-2023.html", host, method)
            assert status == 403, (host, method)
            assert b"Le rapport" not in body and not any(k.startswith("access-control-") for k in headers)
    status, _, body = request(server, "/provenance.json", "rebinding.example")
    assert status == 403 and body == "Hôte refusé : l’aperçu ne répond qu’à http://127.0.0.1:{}/.\n".format(
        port).encode("utf-8")


@pytest.mark.parametrize("path", ["/%00", "/rapport-2023.html%00.txt", "/%zz", "/%", "/%e9t%e9", "/a%0ab",
                                  "/" + "a" * 5000, "/" + "b" * 300 + ".html",
                                  "http://evil.example/"])
def test_malformed_paths_get_400_and_the_server_keeps_serving(server, path):
    status, _, _ = request(server, path)
    assert status == 400, path
    assert request(server, "/rapport-2023.html")[0] == 200


def test_a_client_that_never_finishes_its_request_is_disconnected(server):
    port = server.server_address[1]
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]  # every slot of the fixture's server
    try:
        for s in slow:
            s.sendall(b"GET /rapport-2023.html HTTP/1.1\r\nHost: 127.0.0")  # and never more
        t = time.monotonic()
        status, _, _ = request(server, "/rapport-2023.html")  # served once the slow ones time out
        assert status == 200 and time.monotonic() - t < 8
        for s in slow:
            s.settimeout(5)
            assert s.recv(100) == b""  # closed by the server after its timeout, never held forever
    finally:
        for s in slow:
            s.close()


def test_200_concurrent_requests_on_loopback_are_all_served(server):
    assert server.request_queue_size >= 200
    port = server.server_address[1]
    barrier = threading.Barrier(200, timeout=20)

    def one(_):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        try:
            barrier.wait()
            s.sendall(f"GET /rapport-2023.html HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            return data.split(b"\r\n", 1)[0]
        finally:
            s.close()

    t = time.monotonic()
    with ThreadPoolExecutor(max_workers=200) as pool:
        lines = list(pool.map(one, range(200), timeout=60))
    assert time.monotonic() - t < 60
    assert lines == [b"HTTP/1.0 200 OK"] * 200
