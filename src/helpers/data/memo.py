"""Inputs read once per run: inside `scope()`, a loader called again with the same arguments, on folders whose
files have not changed (names, sizes, modification times), returns the object it returned the first time instead
of reading and checking the same files again. A batch (years, départements) and the EPCI portraits of a
département share their reference tables, boundaries, exports and registers this way.

Outside a scope nothing is kept (an analyst's long session never holds stale data). The objects are shared:
callers treat them as read-only (each chapter's results live on its own context)."""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

_local = threading.local()


@contextlib.contextmanager
def scope():
    """Loaders called inside share their results (nested scopes share the outer one's)."""
    outer = getattr(_local, "store", None)
    if outer is None:
        _local.store = {}
    try:
        yield
    finally:
        if outer is None:
            _local.store = None


def _stamp(path) -> tuple:
    """What identifies a folder's or a file's content without reading it: every file's name, size and
    modification time (ns)."""
    if path is None:
        return (None,)
    p = Path(path)
    try:
        if p.is_file():
            st = p.stat()
            return (str(p), st.st_size, st.st_mtime_ns)
        out = []
        for root, dirs, files in os.walk(p):
            dirs.sort()
            for name in sorted(files):
                st = os.stat(os.path.join(root, name))
                out.append((os.path.join(root, name), st.st_size, st.st_mtime_ns))
        return (str(p), tuple(out))
    except OSError:
        return (str(p), "absent")


def computed(name: str, key: tuple, compute, folders=()):
    """`compute()`, once per scope for the same `key` and unchanged `folders`; outside a scope, simply called
    (with what the caller already loaded: nothing read twice)."""
    store = getattr(_local, "store", None)
    if store is None:
        return compute()
    full = (name, tuple(str(a) for a in key), tuple(_stamp(f) for f in folders))
    if full not in store:
        store[full] = compute()
    return store[full]


def cached(name: str, loader, *args, folders=()):
    """`loader(*args)`, once per scope for the same arguments and unchanged `folders` (those it reads)."""
    store = getattr(_local, "store", None)
    if store is None:
        return loader(*args)
    key = (name, tuple(str(a) for a in args), tuple(_stamp(f) for f in folders))
    if key not in store:
        store[key] = loader(*args)
    return store[key]
