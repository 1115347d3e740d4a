"""Progress of a build: one line per unit of work (a chapter of a report, the assembly of a report).

On a terminal, the lines are redrawn in place (waiting, kernel starting, cell k/n, converting, done in
x s) and the total is printed at the end. In CI (`CI` set), when stderr is piped, or with `TERM=dumb`,
plain log lines are written instead, one per change of state (never one per cell). Thread-safe: the
chapters report from the threads that drive their kernels.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from contextlib import contextmanager

from helpers import fmt

log = logging.getLogger("rapport")


def _secondes(s: float) -> str:
    return f"{fmt.nombre(s, 1)}\u00a0s"


def live_possible(stream) -> bool:
    return (hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("CI")
            and os.environ.get("TERM", "") not in ("", "dumb"))


class Progress:
    """`update(unit, state)`, `done(unit, seconds)`, `failed(unit, text)`, `total(seconds, text)`."""

    def __init__(self, enabled: bool = True, live: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and (live_possible(self.stream) if live is None else live)
        self.lines: dict[str, str] = {}
        self.drawn = 0  # lines of the block currently on screen
        self.lock = threading.RLock()
        self.last = 0.0

    # --- states
    def update(self, unit: str, state: str, plain: bool = True) -> None:
        """`plain`: also write the state as a log line when not live (False for cell counts)."""
        if not self.enabled:
            return
        with self.lock:
            self.lines[unit] = state
            if self.live:
                self._draw(force=False)
            elif plain:
                log.info("%s : %s", unit, state)

    def done(self, unit: str, seconds: float, what: str = "terminé") -> None:
        self.update(unit, f"{what} en {_secondes(seconds)}")

    def failed(self, unit: str, text: str) -> None:
        self.update(unit, f"échec : {text}")

    def total(self, seconds: float, text: str = "") -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.live:
                self._draw(force=True)
            log.info("Total : %s%s", _secondes(seconds), f" ({text})" if text else "")

    # --- terminal
    def _draw(self, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.1 and self.drawn == len(self.lines):
            return
        self.last = now
        width = max((len(u) for u in self.lines), default=0)
        out = []
        if self.drawn:
            out.append(f"\x1b[{self.drawn}F")  # back to the first line of the block
        for unit, state in self.lines.items():
            out.append(f"\x1b[2K{unit.ljust(width)}  {state}\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self.drawn = len(self.lines)

    def message(self, text: str) -> None:
        """A log line printed above the live block."""
        with self.lock:
            if self.live and self.drawn:
                self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
                self.drawn = 0
            self.stream.write(text + "\n")
            if self.live and self.lines:
                self._draw(force=True)
            self.stream.flush()

    @contextmanager
    def capture(self, logger: logging.Logger = log):
        """While live, the logger's lines go through `message()` so that they do not break the block."""
        if not self.live:
            yield self
            return
        progress = self

        class Through(logging.Handler):
            def emit(self, record):
                progress.message(self.format(record))

        handler = Through()
        old = list(logger.handlers)
        handler.setFormatter(old[0].formatter if old else logging.Formatter("rapport : %(message)s"))
        handler.setLevel(logger.level)
        for h in old:
            logger.removeHandler(h)
        logger.addHandler(handler)
        try:
            yield self
        finally:
            logger.removeHandler(handler)
            for h in old:
                logger.addHandler(h)
