"""What each file of a checkout yielded, kept between runs, as ruff and mypy keep theirs.

CI and pre-commit read the same history again and again; reading a revision file is parsing it and
following its ``upgrade()``, which the second run need not repeat. A store is one JSON file per
reader and project (never pickle: loading it runs no code) under the doctor's cache folder
(``$NETRA_DOCTOR_CACHE``, else ``$XDG_CACHE_HOME/netra-doctor``). Each entry is the facts one file
yielded, valid only for the same bytes (a hash of them), the same doctor version and the same
reader format; facts that depended on other files carry those files' fingerprints too (the caller
checks them). An entry also keeps its file's stat signature (size, mtime, ctime, inode), so the next
run need not read and hash a file whose signature is unchanged, as git's index and mypy's cache do;
ctime, which no tool sets back (``cp -p``, ``rsync -t`` and ``touch -r`` restore mtime only), makes it
safe, and a file changed within the last two seconds is always read (git's "racy" rule: a second change
in the same clock tick would leave the signature as it was). Writes are atomic (a temporary file, then
``os.replace``). A corrupt, foreign, stale or unwritable store only costs the reading it was to save;
``--no-cache`` skips it entirely. The folder is held under ``$NETRA_DOCTOR_CACHE_MAX_MB`` (default 64)
by removing the stores used least recently.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from netra_doctor import __version__
from netra_doctor.core.cache import cache_dir, write_atomic

FORMAT = 1  # bump when what a store holds changes shape
DEFAULT_MAX_MB = 64
MAX_STORE_BYTES = 256 * 2**20  # a store larger than this is not read (not one the doctor wrote)
PREFIX = "files-"
RACY_NS = 2 * 10**9  # a file whose ctime is this recent is read, whatever its signature says


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def code_digest(*files: str) -> str:
    """The readers' own source, hashed: facts cached by another reader (a new release, or a checkout of
    the doctor being worked on under the same version number) are never reused."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(files):
        try:
            h.update(Path(name).read_bytes())
        except OSError:
            h.update(name.encode())
    return h.hexdigest()


def signature(path: str) -> list[int] | None:
    """What changes whenever a file's bytes may have: size, mtime, ctime, inode (None: changed in the
    last two seconds, so a change in the same clock tick could hide behind it; or not there)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if time.time_ns() - st.st_ctime_ns < RACY_NS:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def max_bytes() -> int:
    """The cache folder's bound: ``$NETRA_DOCTOR_CACHE_MAX_MB`` (a number of MiB), default 64."""
    try:
        return max(0, int(float(os.environ.get("NETRA_DOCTOR_CACHE_MAX_MB", DEFAULT_MAX_MB)) * 2**20))
    except ValueError:
        return DEFAULT_MAX_MB * 2**20


class Store:
    """One reader's entries for one project: ``get``/``put`` by file, ``save`` once at the end.

    ``scope`` names what every entry also depends on (the project's paths, the reader's format);
    a store written for another scope, version or format is ignored. Entries not used in a run are
    dropped at its save, so a deleted file's facts do not linger."""

    def __init__(self, kind: str, scope: list[str], enabled: bool = True):
        self.header = {"format": FORMAT, "doctor": __version__, "kind": kind, "scope": scope}
        self.enabled = enabled
        self.path: Path | None = None
        self.entries: dict[str, Any] = {}
        self.used: dict[str, Any] = {}  # what this run used: entries read (dicts), or made (their JSON text)
        self.dirty = False
        if enabled:
            self.path = cache_dir() / f"{PREFIX}{kind}-{digest(json.dumps(scope).encode())}.json"
            self.entries = self._load()

    def _load(self) -> dict[str, Any]:
        assert self.path is not None
        try:
            if self.path.stat().st_size > MAX_STORE_BYTES:
                return {}
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(data, dict) or data.get("header") != self.header or not isinstance(data.get("entries"), dict):
            return {}
        return data["entries"]

    def unchanged(self, key: str, stat: list[int] | None) -> Any | None:
        """The entry for ``key`` if it was made from a file with the same signature (see ``signature``)."""
        entry = self.entries.get(key) if stat is not None else None
        if not isinstance(entry, dict) or entry.get("stat") != stat:
            return None
        self.used[key] = entry
        return entry

    def restat(self, key: str, stat: list[int] | None) -> None:
        """Record the signature of ``key``'s file, whose bytes were just found unchanged."""
        entry = self.used.get(key)
        if stat is not None and isinstance(entry, dict) and entry.get("stat") != stat:
            self.used[key] = {**entry, "stat": stat}
            self.dirty = True

    def get(self, key: str, sha: str) -> Any | None:
        """The entry for ``key`` if it was made from bytes hashing to ``sha`` (kept for this run's save)."""
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or entry.get("sha") != sha:
            return None
        self.used[key] = entry
        return entry

    def put(self, key: str, sha: str, entry: dict[str, Any], stat: list[int] | None = None) -> None:
        """Kept as its JSON text at once: a tenth of the memory of the objects (17 MiB for 10,000 revision
        files, most of a cold read's peak), and what ``save`` writes."""
        try:
            self.used[key] = json.dumps({**entry, "sha": sha, **({"stat": stat} if stat else {})},
                                        separators=(",", ":"))
        except (TypeError, ValueError):  # a value JSON cannot hold (a reader's new type): not kept
            return
        self.dirty = True

    def save(self) -> None:
        """Write what this run used, atomically, when anything changed; best effort."""
        if self.path is None or not (self.dirty or self.used.keys() != self.entries.keys()):
            return

        def chunks() -> Iterator[str]:
            yield '{"header":' + json.dumps(self.header, separators=(",", ":")) + ',"entries":{'
            for i, (key, entry) in enumerate(self.used.items()):
                text = entry if isinstance(entry, str) else json.dumps(entry, separators=(",", ":"))
                yield ("," if i else "") + json.dumps(key) + ":" + text
            yield "}}"

        # every entry is JSON text (put) or came from the store's JSON: nothing here can fail to encode
        if write_atomic(self.path, chunks(), ".files-"):
            evict(self.path.parent, keep=self.path)


def evict(folder: Path, keep: Path | None = None, limit: int | None = None) -> None:
    """Remove the least recently written stores until the folder's stores fit ``limit`` bytes."""
    limit = max_bytes() if limit is None else limit
    try:
        stores = [(p.stat(), p) for p in folder.glob(f"{PREFIX}*.json")]
    except OSError:
        return
    total = sum(st.st_size for st, _ in stores)
    for st, path in sorted(stores, key=lambda s: s[0].st_mtime):
        if total <= limit:
            break
        if path == keep:
            continue
        try:
            path.unlink()
            total -= st.st_size
        except OSError:
            continue


# --- plain data for a reader's dataclasses ---------------------------------------------------------


class Uncacheable(Exception):
    """A value the plain-data form does not hold: the file is read afresh each run instead."""


def encode(value: Any, root: Any = None) -> Any:
    """``value`` (dataclasses, lists, tuples, sets, str-keyed dicts, scalars, syntax nodes) as JSON data.
    An object met twice is kept once and referred to (``decode`` shares it again), a reference back to
    ``root`` (a class's module) likewise; a syntax node is kept as where it stands in the file (its
    type, line and column), found again in the file's own parse by ``decode``."""
    seen: dict[int, int] = {}

    def plain(item: Any) -> Any:
        if item is None or isinstance(item, (bool, int, float, str)):
            return item
        if root is not None and item is root and seen:
            return {"^": 1}
        if isinstance(item, list):
            return [plain(v) for v in item]
        if isinstance(item, tuple):
            return {"t": [plain(v) for v in item]}
        if isinstance(item, (set, frozenset)):
            return {"s": sorted((plain(v) for v in item), key=json.dumps)}
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                raise Uncacheable("a dict with keys other than strings")
            return {"d": {k: plain(v) for k, v in item.items()}}
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            if id(item) in seen:
                return {"r": seen[id(item)]}
            seen[id(item)] = len(seen)
            return {"c": type(item).__name__,
                    "f": {f.name: plain(getattr(item, f.name)) for f in dataclasses.fields(item)}}
        if isinstance(item, (ast.stmt, ast.expr)):
            return {"a": [type(item).__name__, item.lineno, item.col_offset]}
        raise Uncacheable(f"a {type(item).__name__}")

    return plain(value)


def decode(data: Any, classes: dict[str, type], source: str = "") -> Any:
    """What ``encode`` made, with the same classes (``classes`` by name: nothing else is ever built);
    syntax nodes are found again in ``source``'s parse. Raises ValueError on data it did not make."""
    made: list[Any] = []  # dataclass objects in the order encode met them (None: still being built)
    root_refs: list[tuple[Any, str]] = []
    nodes: dict[tuple[str, int, int], ast.AST] = {}

    def node(kind: str, line: int, col: int) -> ast.AST:
        if not nodes:
            for n in ast.walk(ast.parse(source)):
                if isinstance(n, (ast.stmt, ast.expr)):
                    nodes.setdefault((type(n).__name__, n.lineno, n.col_offset), n)
        found = nodes.get((kind, line, col))
        if found is None:
            raise ValueError("a syntax node not in the source")
        return found

    def build(item: Any) -> Any:
        if item is None or isinstance(item, (bool, int, float, str)):
            return item
        if isinstance(item, list):
            return [build(v) for v in item]
        if not isinstance(item, dict) or len(item) not in (1, 2):
            raise ValueError("not cached data")
        if "t" in item:
            return tuple(build(v) for v in item["t"])
        if "s" in item:
            return {build(v) for v in item["s"]}
        if "d" in item:
            return {k: build(v) for k, v in item["d"].items()}
        if "a" in item:
            return node(*item["a"])
        if "^" in item:
            return _ROOT
        if "r" in item:
            if made[item["r"]] is None:
                raise ValueError("an object that refers to itself")
            return made[item["r"]]
        cls = classes.get(item.get("c"))  # type: ignore[arg-type]
        if cls is None:
            raise ValueError("a class the reader does not make")
        index = len(made)
        made.append(None)
        fields = {k: build(v) for k, v in item["f"].items()}
        made[index] = obj = cls(**fields)
        root_refs.extend((obj, k) for k, v in fields.items() if v is _ROOT)
        return obj

    try:
        out = build(data)
        for obj, name in root_refs:
            setattr(obj, name, out)
        return out
    except (TypeError, KeyError, IndexError, AttributeError, SyntaxError, RecursionError) as exc:
        raise ValueError(f"not cached data: {exc}") from None


_ROOT = object()


def cached_reader(store: Store, read: Callable[[str, str, str], Any], classes: dict[str, type]
                  ) -> Callable[[str, str, str], Any]:
    """``read(source, path, module)`` (a pure per-file reader) answered from ``store`` when the same
    file held the same source for the same module name; what ``read`` raises is never cached."""

    def cached(source: str, path: str, module: str) -> Any:
        key = f"{path}\0{module}"
        sha = digest(source.encode("utf-8", "surrogatepass"))
        entry = store.get(key, sha)
        if entry is not None and "value" in entry:
            try:
                return decode(entry["value"], classes, source)
            except ValueError:
                pass
        value = read(source, path, module)
        with contextlib.suppress(Uncacheable):
            store.put(key, sha, {"value": encode(value, root=value)})
        return value

    return cached
