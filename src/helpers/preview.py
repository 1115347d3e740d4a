"""`rapport preview`: a local server that rebuilds what changed and reloads the open pages.

The report is built into a private temporary folder (never into outputs/, never published) and
served on 127.0.0.1 only. A watcher polls the notebooks, the package, params/ and the data folders
in use; a burst of saves makes one rebuild (debounced), one rebuild at a time, through the build's
own machinery (chapters whose inputs did not change are not run again when the build has a cache).
Each HTML page is served with a small inline script that listens to server-sent events and reloads
the page after a rebuild; the files on disk, like the published report, carry none of it. A failed
rebuild shows a French banner on the page (chapter, cell, error, partial notebook) above the last
good version, until a rebuild succeeds.

The server answers only its own page's browser: a request whose `Host` is not `127.0.0.1:PORT`, `localhost:PORT`
or `[::1]:PORT` is refused with 403 (a page of another site rebound to 127.0.0.1 by DNS cannot read the report), and
no CORS header is ever sent. A request must arrive within REQUEST_TIMEOUT_S, at most MAX_CLIENTS are served at once
(the others wait in a listen backlog of BACKLOG connections), and a malformed path (nul byte, bad percent-encoding,
not UTF-8, overlong) gets 400.
"""
from __future__ import annotations

import errno
import html
import http.server
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path

from helpers import config
from helpers.errors import DataError, ParamError, RapportError
from helpers.params import Resolved

log = logging.getLogger("rapport")

EVENTS = "/__apercu/evenements"
REQUEST_TIMEOUT_S = 10  # a client that does not finish its request in this time is disconnected
MAX_CLIENTS = 32  # requests served at once (an open page keeps one for its reload events)
BACKLOG = 256  # connections waiting to be accepted (200 at once on loopback are all served)
MAX_PATH = 2048  # characters of a request's path
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
POLL_S = 0.1  # how often the watcher looks at the files
QUIET_S = 0.15  # a burst of saves is over after this long without a change (a save writes a file in one go)

# Served with every HTML page (never written into the files): reload after a rebuild.
RELOAD_SCRIPT = (
    "<script>(function(){var g=null;var s=new EventSource('" + EVENTS + "');"
    "s.onmessage=function(e){if(g!==null&&e.data!==g){location.reload();}g=e.data;};})();</script>")


@dataclass
class State:
    """What the server tells the pages: the generation of the last rebuild, and its error if it failed."""

    generation: int = 0
    error: str | None = None
    building: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)

    def publish(self, error: str | None) -> None:
        with self.cond:
            self.generation += 1
            self.error = error
            self.cond.notify_all()


def banner(error: str) -> str:
    return ('<div id="apercu-erreur" role="alert" style="position:sticky;top:0;z-index:1000;background:#fde8e8;'
            'border-bottom:3px solid #9b1c1c;color:#3b0a0a;padding:0.8rem 1.2rem;font:15px/1.4 sans-serif;'
            'white-space:pre-wrap"><strong>La dernière reconstruction a échoué</strong> (la page montre la '
            f'dernière version réussie)\u00a0:\n{html.escape(error)}</div>')


class Server(http.server.ThreadingHTTPServer):
    """One thread per request, at most MAX_CLIENTS at once; BACKLOG connections wait to be accepted."""

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, address, handler, max_clients: int = MAX_CLIENTS):
        self.slots = threading.BoundedSemaphore(max_clients)
        self.stopping = False
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        # wait for a free slot (a burst of requests is served in turn; a client that never finishes its request
        # frees its slot after REQUEST_TIMEOUT_S); 503 after three times that, or at once when the server stops
        deadline = time.monotonic() + 3 * REQUEST_TIMEOUT_S
        got = False
        while not (got := self.slots.acquire(timeout=0.2)) and not self.stopping and time.monotonic() < deadline:
            pass
        if not got:
            try:
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def make_server(root: Path, state: State, port: int, max_clients: int = MAX_CLIENTS) -> Server:
    """The preview's server on 127.0.0.1:`port`, serving `root` (OSError if the port cannot be bound)."""
    return Server(("127.0.0.1", port), _handler(root, state), max_clients)


def _handler(root: Path, state: State):
    class Handler(http.server.SimpleHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S  # the socket's timeout: a request never finished does not hold a thread

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format, *args):  # noqa: A002 - quiet: the terminal shows the rebuilds
            pass

        def parse_request(self) -> bool:
            """Every request, whatever its method: only from the preview's own page, with a well-formed path."""
            if not super().parse_request():
                return False
            port = self.server.server_address[1]
            host = (self.headers.get("Host") or "").strip().lower()
            if host not in {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}:
                self._refuse(403, f"Hôte refusé : l’aperçu ne répond qu’à http://127.0.0.1:{port}/.")
                return False
            if not self._path_ok():
                self._refuse(400, "Chemin de requête invalide.")
                return False
            return True

        def _path_ok(self) -> bool:
            raw = self.path
            if len(raw) > MAX_PATH or not raw.startswith("/") or _BAD_PERCENT.search(raw):
                return False
            try:
                decoded = urllib.parse.unquote_to_bytes(raw.split("?", 1)[0].split("#", 1)[0]).decode("utf-8")
            except UnicodeDecodeError:
                return False
            return not any(ord(c) < 32 or ord(c) == 127 for c in decoded)

        def _refuse(self, code: int, text: str) -> None:
            body = f"{text}\n".encode("utf-8")
            self.close_connection = True
            try:
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
            except OSError:
                pass

        def do_GET(self):  # noqa: N802
            if self.path.split("?")[0] == EVENTS:
                return self._events()
            try:
                path = Path(self.translate_path(self.path))
                if path.is_dir():
                    index = next(iter(sorted(path.glob("rapport-*.html"), key=lambda p: len(p.name))), None)
                    if index is None:
                        return self._waiting()
                    path = index
                if path.suffix == ".html" and path.is_file():
                    return self._page(path)
            except (OSError, ValueError) as exc:  # a name too long for the file system, …
                if isinstance(exc, OSError) and exc.errno not in (errno.ENAMETOOLONG, errno.EINVAL, errno.ELOOP):
                    raise
                return self._refuse(400, "Chemin de requête invalide.")
            return super().do_GET()

        def do_HEAD(self):  # noqa: N802
            try:
                return super().do_HEAD()
            except (OSError, ValueError):
                return self._refuse(400, "Chemin de requête invalide.")

        def _send(self, body: bytes, ctype: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _page(self, path: Path) -> None:
            text = path.read_text(encoding="utf-8")
            if state.error:  # the banner first in the page, the last good version below it
                b = text.find("<body")
                k = text.find(">", b) + 1 if b >= 0 else 0
                text = text[:k] + banner(state.error) + text[k:]
            end = text.rfind("</body>")
            text = text[:end] + RELOAD_SCRIPT + text[end:] if end >= 0 else text + RELOAD_SCRIPT
            self._send(text.encode("utf-8"), "text/html; charset=utf-8")

        def _waiting(self) -> None:
            msg = (banner(state.error) if state.error else
                   "<p style='font:16px sans-serif;padding:2rem'>Construction en cours…</p>")
            self._send(f"<!DOCTYPE html><html lang='fr'><meta charset='utf-8'><title>Aperçu</title><body>{msg}"
                       f"{RELOAD_SCRIPT}</body></html>".encode("utf-8"), "text/html; charset=utf-8")

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = None
            try:
                while not getattr(self.server, "stopping", False):
                    with state.cond:
                        if seen == state.generation:
                            state.cond.wait(timeout=10)
                        gen = state.generation
                    if gen != seen:
                        self.wfile.write(f"data: {gen}\n\n".encode())
                        seen = gen
                    else:
                        self.wfile.write(b": rien\n\n")  # keep-alive; fails when the page is gone
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, OSError):
                return

    return Handler


def watched_paths(resolved: Resolved) -> list[Path]:
    """The notebooks, the package, params/ and the data folders in use."""
    p = resolved.params
    folders = [config.NOTEBOOKS_DIR, config.PACKAGE_DIR, config.PARAMS_DIR, p.reference_dir,
               Path(p.registers_dir) / p.departement]
    for extra in (p.cafdata_dir, p.geo_dir, p.opendata_dep_dir, p.national_dir, p.extraits_path):
        if extra is not None:
            folders.append(Path(extra))
    return [f for f in dict.fromkeys(Path(x) for x in folders) if f.exists()]


def snapshot(paths: list[Path]) -> dict[str, tuple[float, int]]:
    out = {}
    for root in paths:
        files = [root] if root.is_file() else (f for f in root.rglob("*") if f.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.name.startswith(".") or ".ipynb_checkpoints" in f.parts:
                continue
            try:
                st = f.stat()
            except OSError:
                continue
            out[str(f)] = (st.st_mtime, st.st_size)
    return out


class Preview:
    def __init__(self, year, departement, params_file, overrides, chapters, port: int):
        self.year, self.departement, self.params_file = year, departement, params_file
        self.overrides, self.chapters, self.port = overrides, chapters, port
        self.state = State()
        self.tmp: Path | None = None  # created once the parameters and the port are accepted: a refusal leaves nothing
        self.out: Path | None = None
        self.stop = threading.Event()
        self.session = None  # kernels kept warm from one rebuild to the next (build.Session)

    def resolve(self) -> Resolved:
        from helpers.params import resolve

        extra = {"chapters": self.chapters} if self.chapters else {}
        return resolve(self.year, self.departement, self.params_file, self.overrides, cli_extra=extra)

    def rebuild(self) -> None:
        from helpers.build import build

        t0 = time.monotonic()
        self.state.building = True
        try:
            resolved = self.resolve()
            build(resolved, self.out, self.params_file, self.overrides, formats=["html"], session=self.session)
        except (ParamError, DataError, RapportError) as exc:
            log.error("Aperçu : la reconstruction a échoué :\n%s", exc)
            self.state.publish(str(exc))
        except Exception as exc:  # keep serving the last good version whatever happened
            log.error("Aperçu : erreur inattendue (%s : %s)", type(exc).__name__, exc)
            self.state.publish(f"Erreur inattendue ({type(exc).__name__}\u00a0: {exc})")
        else:
            log.info("Aperçu : reconstruit en %s s", f"{time.monotonic() - t0:.1f}".replace(".", ","))
            self.state.publish(None)
        finally:
            self.state.building = False

    def watch(self, paths: list[Path]) -> None:
        before = snapshot(paths)
        while not self.stop.is_set():
            self.stop.wait(POLL_S)
            now = snapshot(paths)
            if now == before:
                continue
            while not self.stop.is_set():  # debounce: wait for the burst of saves to end
                self.stop.wait(QUIET_S)
                later = snapshot(paths)
                if later == now:
                    break
                now = later
            if self.stop.is_set():
                return
            changed = sorted(set(now.items()) ^ set(before.items()))
            names = sorted({Path(k).name for k, _ in changed})
            log.info("Aperçu : changement (%s), reconstruction", ", ".join(names[:5]) + ("…" if len(names) > 5 else ""))
            before = now
            self.rebuild()
            before = snapshot(paths)  # what the rebuild itself touched does not count

    def run(self, open_browser: bool) -> int:
        resolved = self.resolve()  # parameters refused now, before anything starts
        tmp = Path(tempfile.mkdtemp(prefix=f"rapport-apercu-{os.getpid()}-"))
        try:
            server = make_server(tmp / "apercu", self.state, self.port)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno == errno.EADDRINUSE:
                raise ParamError(f"--port\u00a0: le port {self.port} est déjà utilisé sur 127.0.0.1 ; choisissez-en "
                                 "un autre, par exemple --port 8765") from None
            raise ParamError(f"--port\u00a0: impossible d’écouter sur 127.0.0.1:{self.port} "
                             f"({exc.strerror or exc})") from None
        from helpers import sortie
        sortie.ecrire_marque(tmp)  # removed by a later command if this process is killed outright
        self.tmp, self.out = tmp, tmp / "apercu"
        url = f"http://127.0.0.1:{self.port}/rapport-{resolved.params.year}.html"
        serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        serving.start()
        print(f"Aperçu : {url} (Ctrl-C pour arrêter)", flush=True)
        from helpers.build import Session
        from helpers.data.memo import scope

        self.session = Session()
        try:
            # the inputs read once, then again only when their files change (helpers.data.memo), the kernels kept
            with scope():
                self.rebuild()
                if open_browser:
                    webbrowser.open(url)
                self.watch(watched_paths(resolved))
        finally:
            self.session.close()
            self.stop.set()
            server.stopping = True
            with self.state.cond:
                self.state.cond.notify_all()
            server.shutdown()
            server.server_close()
            shutil.rmtree(self.tmp, ignore_errors=True)
        return 0


def run_preview(year, departement, params_file, overrides, chapters, port: int, open_browser: bool) -> int:
    if not 1024 <= port <= 65535:
        raise ParamError(f"--port\u00a0: un port entre 1024 et 65535 est attendu (reçu\u00a0: {port})")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet kernels
    return Preview(year, departement, params_file, overrides, chapters, port).run(open_browser)
