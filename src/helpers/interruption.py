"""SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a command the same way.

`timeout`, CI runners and systemd send SIGTERM, a closed terminal sends SIGHUP; Python's default
for both is to die on the spot, without running any `finally`: the kernels, the staging folder and
the kernels' sockets would stay behind. Here each of the three raises `Interrompu` (a
KeyboardInterrupt) in the main thread, so that the build's cleanup runs, and the command exits
with 128 + the signal number (130, 143, 129), as a shell reports a process killed by it.

Inside `differe()` (publication, cleanup) a signal is held until the block ends: the report is
either fully published or untouched, and a cleanup is never cut short by a second signal.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

SIGNAUX = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)


class Interrompu(KeyboardInterrupt):
    """The command received SIGINT, SIGTERM or SIGHUP."""

    def __init__(self, signum: int, publie: bool = False):
        super().__init__(signum)
        self.signum = int(signum)
        self.publie = publie  # the signal arrived during publication, which was completed first
        self.detail: str | None = None  # what the interrupted command leaves behind, in French

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def nom(self) -> str:
        return signal.Signals(self.signum).name


_etat = {"differe": 0, "en_attente": None}


def _gestionnaire(signum, frame):
    if _etat["differe"]:
        if _etat["en_attente"] is None:
            _etat["en_attente"] = signum
        return
    raise Interrompu(signum)


@contextmanager
def geres():
    """Install the handler for the duration of a command (main thread only), then restore the previous ones."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # a signal ignored on entry stays ignored: `nohup` ignores SIGHUP, a shell ignores SIGINT for `cmd &`
    avant = {s: h for s in SIGNAUX if (h := signal.getsignal(s)) != signal.SIG_IGN}
    _etat.update(differe=0, en_attente=None)
    for s in avant:
        signal.signal(s, _gestionnaire)
    try:
        yield
    finally:
        for s, h in avant.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


@contextmanager
def differe(publication: bool = False):
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends, then raise the held signal, if any (`publication`: the
    block published the report, the exception says so). If the block raised, or runs while an exception is being
    handled (a cleanup), that exception goes on and the held signal is dropped: the command stops anyway."""
    _etat["differe"] += 1
    try:
        yield
    finally:
        _etat["differe"] -= 1
        en_attente = _etat["en_attente"] if _etat["differe"] == 0 else None
        if _etat["differe"] == 0:
            _etat["en_attente"] = None
    if en_attente is not None and sys.exc_info()[0] is None:
        raise Interrompu(en_attente, publie=publication)
