"""The build cache: executed chapter notebooks keyed on everything that can change them.

A chapter's key is the sha256 of: the notebook, the package's code (src/helpers/**, templates and
stylesheet included), the resolved parameters and the parameters injected by Papermill, the kernel,
the versions of Python and of the libraries that execute and draw, the content of every input file
the chapter's context reads (recorded per chapter by `build.check`) and the listing of the folders
they are in (a file added next to them can change what is read). A changed data file therefore
changes exactly the keys of the chapters that read it.

The cache lives beside the output folder (`outputs/.cache/` for `outputs/2023`), never in `data/`:
`.cache/chapitres/<chapitre>/<clé>.<sha256>.ipynb` (the entry's own digest in its name, written with it in one
atomic step: a read checks it, and an entry edited, truncated or unreadable is removed and its chapter
executed again, never reused), and `.cache/empreintes.json`, which remembers the sha256
of each input file with its size, mtime and inode, so that an unchanged 1 GB export is not read
again (the git index does the same). Every write is atomic (temporary file, then `os.replace`):
builds running side by side share the cache safely.

A published report holds `.construction.json`: the key of the whole build, each chapter's key, and the sha256 of
every file published with it (`fichiers`). The next build to the same folder recomputes these keys before loading
any data or starting any kernel, and hashes the published files again: if nothing changed and every published file
is there with its digest, it says so and leaves the report untouched; a file deleted or edited by hand means a
rebuild.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import sys
import tempfile
import threading
from pathlib import Path

from helpers import config
from helpers.errors import display_path

log = logging.getLogger("rapport")

FORMAT = 1  # bump when the key's recipe changes
DOSSIER = ".cache"
RECORD = ".construction.json"
GARDER = 40  # executed notebooks kept per chapter (the most recently used)
LIBRARIES = ("papermill", "nbclient", "nbconvert", "nbformat", "ipykernel", "jupyter_client", "pandas", "numpy",
             "matplotlib", "seaborn", "geopandas", "shapely", "pyogrio", "weasyprint", "beautifulsoup4", "pydantic",
             "pandera", "babel", "pyyaml")


def folder_for(out: Path) -> Path:
    """The cache of the builds published beside `out`."""
    return Path(out).parent / DOSSIER


def atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class Fingerprints:
    """sha256 of files, remembered with (size, mtime_ns, ctime_ns, inode): a file whose metadata did not
    change is not read again. Thread-safe; `save()` merges into the file on disk."""

    def __init__(self, cache_dir: Path | None):
        self.path = cache_dir / "empreintes.json" if cache_dir is not None else None
        self.known: dict[str, list] = {}
        self.lock = threading.Lock()
        self.changed = False
        if self.path is not None:
            try:
                self.known = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.known = {}

    def __call__(self, path: Path) -> str | None:
        """The file's sha256, or None if it is missing."""
        path = Path(path)
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        key = str(path.resolve())
        with self.lock:
            hit = self.known.get(key)
        if hit is not None and hit[:4] == stamp:
            return hit[4]
        digest = sha256_file(path)
        with self.lock:
            self.known[key] = [*stamp, digest]
            self.changed = True
        return digest

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        try:
            merged = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        except (OSError, ValueError):
            merged = {}
        with self.lock:
            merged.update(self.known)
        merged = {k: v for k, v in merged.items() if os.path.exists(k)}
        try:
            atomic_write(self.path, json.dumps(merged, sort_keys=True).encode())
        except OSError:  # the cache is an optimisation: a read-only folder only makes the next build slower
            pass


_code: dict[str, str] = {}


def code_digest() -> str:
    """sha256 of the package's code, templates and stylesheet (computed once per process)."""
    if "digest" not in _code:
        h = hashlib.sha256()
        for p in sorted(config.PACKAGE_DIR.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
                h.update(str(p.relative_to(config.PACKAGE_DIR)).encode() + b"\0" + p.read_bytes() + b"\0")
        _code["digest"] = h.hexdigest()
    return _code["digest"]


def _environment() -> dict:
    if "env" not in _code:
        from importlib import metadata
        versions = {}
        for name in LIBRARIES:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                versions[name] = None
        _code["env"] = json.dumps({"python": sys.version, "machine": platform.machine(), "versions": versions},
                                  sort_keys=True)
    return json.loads(_code["env"])


def _listing(folder: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(folder) if not e.name.startswith(".~lock"))
    except OSError:
        return []


def chapter_key(chapter: str, notebook: Path, kernel: str, params: dict, injected: dict, files: list[Path],
                fingerprints: Fingerprints, folders: list[Path] = (), notebook_digest: str | None = None,
                rows: str | None = None) -> str:
    """The cache key of one chapter (see the module's docstring); `folders`: listed with those of `files`.
    `notebook_digest`: stands for the notebook's own fingerprint (the prose key: the notebook but for its plain
    Markdown, narration.code_digest). `rows`: the digest of the register rows a portrait reads, which stand for
    the register files (left out of `files`)."""
    files = sorted({str(Path(f)) for f in files})
    folders = sorted({str(Path(f).parent) for f in files} | {str(Path(d)) for d in folders})
    recipe = {
        "format": FORMAT, "chapter": chapter, "kernel": kernel,
        "notebook": fingerprints(notebook) if notebook_digest is None else ["sans-texte", notebook_digest],
        "code": code_digest(), "environment": _environment(),
        "params": params, "injected": injected,
        "files": [(f, fingerprints(Path(f))) for f in files],
        "folders": {d: _listing(Path(d)) for d in folders},
    }
    if rows is not None:
        recipe["rows"] = rows
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()


def build_key(chapter_keys: dict[str, str], formats: list[str], extra_files: list[Path],
              fingerprints: Fingerprints) -> str:
    """The key of a whole report: its chapters' keys in order, its formats, and the other files its
    annexes read (the download manifests)."""
    recipe = {"format": FORMAT, "chapters": list(chapter_keys.items()), "formats": list(formats),
              "extra": [(str(f), fingerprints(Path(f))) for f in sorted({str(x) for x in extra_files})],
              "code": code_digest()}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


class Cache:
    """Executed notebooks, one per chapter key, each stored with its sha256 (in its name) and checked when read."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def _dir(self, chapter: str) -> Path:
        return self.folder / "chapitres" / chapter

    def get(self, chapter: str, key: str) -> bytes | None:
        """The executed notebook stored under `key`, checked: its bytes match the digest it was stored with and
        read as a notebook. An entry that does not (edited, truncated, unreadable) is removed, said on stderr, and
        None returned: the chapter is executed again."""
        if self.folder is None:
            return None
        folder = self._dir(chapter)
        try:
            entries = sorted(folder.glob(f"{key}.*.ipynb"))
        except OSError:
            return None
        legacy = folder / f"{key}.ipynb"  # written by an earlier version, without its digest: not trusted
        if legacy.is_file():
            entries.append(legacy)
        for p in entries:
            expected = p.name[len(key) + 1:-len(".ipynb")] if p != legacy else None
            try:
                data = p.read_bytes()
            except OSError as exc:
                self._discard(chapter, p, f"illisible ({exc.strerror or exc})")
                continue
            if expected is None:
                self._discard(chapter, p, "enregistrée sans empreinte par une version précédente", quiet=True)
                continue
            if hashlib.sha256(data).hexdigest() != expected:
                self._discard(chapter, p, "modifiée ou tronquée (son empreinte SHA-256 ne correspond plus)")
                continue
            try:
                nb = json.loads(data.decode("utf-8"))
                if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
                    raise ValueError("pas un notebook")
            except (UnicodeDecodeError, ValueError):
                self._discard(chapter, p, "illisible (ce n’est pas un notebook JSON)")
                continue
            try:
                os.utime(p)  # most recently used: kept by prune()
            except OSError:
                pass
            return data
        return None

    def _discard(self, chapter: str, path: Path, why: str, quiet: bool = False) -> None:
        if not quiet:
            log.warning("cache : l’entrée du chapitre «\u00a0%s\u00a0» (%s) est %s\u00a0; elle est supprimée et le "
                        "chapitre est réexécuté.", chapter, display_path(path), why)
        try:
            path.unlink()
        except OSError:
            pass

    def put(self, chapter: str, key: str, executed: Path) -> None:
        if self.folder is None:
            return
        try:
            data = Path(executed).read_bytes()
            atomic_write(self._dir(chapter) / f"{key}.{hashlib.sha256(data).hexdigest()}.ipynb", data)
            self.prune(chapter)
        except OSError:  # a folder we cannot write: the build goes on without cache
            pass

    def prune(self, chapter: str) -> None:
        for pattern in ("*.ipynb", "texte-*.json"):
            entries = sorted(self._dir(chapter).glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
            for p in entries[GARDER:]:
                p.unlink(missing_ok=True)

    # The prose key of a chapter (its key but for the notebook's plain Markdown) names the full key of the last
    # notebook executed with the same code, data and parameters: when only prose changed, that executed notebook,
    # checked as any entry, gets the new prose instead of being executed again (the analyst's loop in preview).
    def alias(self, chapter: str, prose_key: str, key: str) -> None:
        if self.folder is None:
            return
        try:
            atomic_write(self._dir(chapter) / f"texte-{prose_key}.json", json.dumps({"cle": key}).encode())
        except OSError:
            pass

    def aliased(self, chapter: str, prose_key: str) -> str | None:
        if self.folder is None:
            return None
        try:
            key = json.loads((self._dir(chapter) / f"texte-{prose_key}.json").read_text(encoding="utf-8"))["cle"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return key if isinstance(key, str) and re.fullmatch(r"[0-9a-f]{64}", key) else None


def write_record(folder: Path, key: str, chapters: dict[str, dict], formats: list[str], published: list[Path]) -> None:
    """`.construction.json` of the report in `folder`: its keys, and the sha256 of each file of `published`
    (paths relative to `folder`), which the unchanged fast path checks again."""
    record = {"format": FORMAT, "cle": key, "formats": list(formats), "chapitres": chapters,
              "fichiers": {Path(p).as_posix(): sha256_file(Path(folder) / p) for p in published}}
    (folder / RECORD).write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def read_record(folder: Path) -> dict | None:
    try:
        record = json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def published_intact(folder: Path, record: dict) -> bool:
    """Every file the record lists is in `folder`, a regular file, with the digest it was published with."""
    files = record.get("fichiers")
    if not isinstance(files, dict) or not files:
        return False
    for name, digest in files.items():
        rel = Path(str(name))
        if rel.is_absolute() or ".." in rel.parts or not isinstance(digest, str):
            return False
        p = Path(folder) / rel
        try:
            if p.is_symlink() or not p.is_file() or sha256_file(p) != digest:
                return False
        except OSError:
            return False
    return True


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
