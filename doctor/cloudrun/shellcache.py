"""What the shell parser made of each job script read before, so a later run need not load bash's grammar.

Importing bashlex and its LALR tables costs about 10 ms, more than a replay's whole diagnosis, for a
parse that never changes for the same script. One JSON file (``shell-parses.json`` in the doctor's
cache folder, ``core.cache.cache_dir``) maps a key of each script to what
``shellcmd.parse_shell`` made of it (its simple commands, the syntax error bash would give, or why
it is not judged), as plain data, never code.

A key is a 64-bit checksum of the text (zlib's CRC-32 and Adler-32) with its length, never the text,
which may carry a secret. Not a cryptographic hash, as ruff's cache keys are not: importing OpenSSL's
hashlib alone costs 2 ms, and an accidental collision among the 512 scripts kept is about 1e-14. The
store holds for one doctor version, one store format and the parser's own code (size and
modification time of ``shellcmd.py`` and of bashlex's ``parser.py``); anything else in it is ignored.
Writes are atomic (a temporary file, then ``os.replace``); the oldest scripts go first past 512; a
corrupt, foreign or unwritable store only costs the parse it was to save.
"""

from __future__ import annotations

import json
import threading
import zlib
from pathlib import Path
from typing import Any

from netra_doctor import __version__
from netra_doctor.core.cache import cache_dir, write_atomic
from netra_doctor.core.errors import ConfigError
from netra_doctor.core.files import read_text

FORMAT = 1  # bump when what an entry holds changes shape
MAX_SCRIPTS = 512
MAX_SCRIPT_CHARS = 64 * 1024  # a longer script is parsed every time, not kept
_MAX_BYTES = 8 * 2**20
NAME = "shell-parses.json"

_LOCK = threading.Lock()
_STORE: dict[str, Any] = {}  # path, stamp, entries: the store as this process knows it


def key(text: str) -> str:
    data = text.encode("utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}-{len(data)}"


def _stamp() -> str:
    """The doctor version, the format and the parser's code, as the store must match them."""
    import importlib.util

    parts = [__version__, str(FORMAT)]
    spec = importlib.util.find_spec("bashlex")
    files = [Path(__file__).with_name("shellcmd.py")]
    if spec is not None and spec.origin:
        files.append(Path(spec.origin).with_name("parser.py"))
    for path in files:
        try:
            st = path.stat()
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("?")
    return " ".join(parts)


def _loaded() -> dict[str, Any]:
    """The store, read once per process (under the lock)."""
    path = cache_dir() / NAME
    if _STORE.get("path") != path:  # first use, or the cache folder changed (tests)
        stamp = _stamp()
        entries: dict[str, Any] = {}
        try:
            data = json.loads(read_text(path, _MAX_BYTES))
            if isinstance(data, dict) and data.get("stamp") == stamp and isinstance(data.get("scripts"), dict):
                entries = data["scripts"]
        except (OSError, ConfigError, ValueError):
            pass
        _STORE.clear()
        _STORE.update(path=path, stamp=stamp, entries=entries)
    return _STORE


def lookup(text: str) -> Any | None:
    """What was kept for ``text``, or None."""
    if len(text) > MAX_SCRIPT_CHARS:
        return None
    with _LOCK:
        return _loaded()["entries"].get(key(text))


def keep(text: str, entry: Any) -> None:
    """Remember ``entry`` (plain JSON data) for ``text`` and write the store; best effort."""
    if len(text) > MAX_SCRIPT_CHARS:
        return
    with _LOCK:
        store = _loaded()
        entries = store["entries"]
        entries.pop(key(text), None)
        entries[key(text)] = entry  # newest last: the oldest are dropped first
        while len(entries) > MAX_SCRIPTS:
            del entries[next(iter(entries))]
        write_atomic(store["path"], [json.dumps({"stamp": store["stamp"], "scripts": entries}, separators=(",", ":"))],
                     ".shell-")
