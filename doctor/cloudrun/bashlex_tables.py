"""Import bashlex with its LALR tables cached, because it rebuilds them on every import.

bashlex 0.18 vendors a PLY whose ``yacc()`` never reads a saved table: each import
rebuilds the bash grammar's LALR tables, 0.1-0.3 s, most of a `netra-doctor replay`.
The first import here builds them as usual and saves the action, goto and production
tables as plain JSON (data only, never code); later imports load them and hand bashlex
the same parser object PLY would have made. The cache is keyed on the Python version and
a hash of bashlex's grammar and generator source, so an upgraded bashlex builds afresh;
a cache that is unreadable, stale or unwritable only costs the rebuild it was to save.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
import threading
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from netra_doctor.core.cache import cache_dir, write_atomic
from netra_doctor.core.errors import ConfigError
from netra_doctor.core.files import read_text

_FORMAT = 1
_MAX_BYTES = 16 * 2**20  # the tables are about 300 KB; a bigger file is not ours
# Several environments diagnose in threads at once: the package sits in sys.modules half executed
# while its tables load, so a second thread must wait for the first, never take that half module.
_LOCK = threading.Lock()
_READY: list[ModuleType] = []


def import_bashlex() -> ModuleType:
    """``import bashlex``, building its parser from the table cache when one fits; safe from any thread."""
    if _READY:
        return _READY[0]
    with _LOCK:
        if not _READY:
            _READY.append(_import())
        return _READY[0]


def _import() -> ModuleType:
    done = sys.modules.get("bashlex")
    if done is not None and hasattr(done, "split"):  # imported whole by someone else (a plain `import bashlex`)
        return done
    # bashlex/__init__ imports the parser, which builds the tables at once: so register the
    # package unexecuted, import its yacc module, wrap yacc(), and only then run __init__.
    spec = importlib.util.find_spec("bashlex")
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError("No module named 'bashlex'", name="bashlex")
    package = importlib.util.module_from_spec(spec)
    sys.modules["bashlex"] = package
    try:
        yacc = importlib.import_module("bashlex.yacc")
        build = yacc.yacc
        path = _cache_path(Path(yacc.__file__).parent)

        def cached_yacc(*args: Any, **kwargs: Any) -> Any:
            grammar = sys.modules[sys._getframe(1).f_globals["__name__"]]  # bashlex.parser, the p_* rules
            parser = _load(path, vars(grammar), yacc) if path else None
            if parser is None:
                parser = build(*args, module=grammar, **kwargs)
                if path:
                    _save(path, parser)
            yacc.parse = parser.parse  # as PLY's yacc() leaves it
            return parser

        yacc.yacc = cached_yacc
        try:
            spec.loader.exec_module(package)
        finally:
            yacc.yacc = build
    except BaseException:
        for name in [m for m in sys.modules if m == "bashlex" or m.startswith("bashlex.")]:
            del sys.modules[name]
        raise
    return package


def _cache_path(package: Path) -> Path | None:
    digest = hashlib.sha256(f"{_FORMAT} {sys.version_info[:2]}".encode())
    try:
        for name in ("parser.py", "yacc.py"):
            digest.update((package / name).read_bytes())
    except OSError:
        return None
    return cache_dir() / f"bashlex-tables-{digest.hexdigest()[:20]}.json"


def _load(path: Path, pdict: dict[str, Any], yacc: ModuleType) -> Any:
    """The parser from a saved table, or None when there is no usable one."""
    try:
        data = json.loads(read_text(path, _MAX_BYTES))
        productions = [
            SimpleNamespace(name=name, len=length, str=text, func=func, callable=pdict[func] if func else None)
            for name, length, text, func in data["productions"]
        ]
        table = SimpleNamespace(
            lr_productions=productions,
            lr_action={int(state): acts for state, acts in data["action"].items()},
            lr_goto={int(state): gotos for state, gotos in data["goto"].items()},
        )
        return yacc.LRParser(table, pdict.get("p_error"))
    except (OSError, ConfigError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _save(path: Path, parser: Any) -> None:
    """Write the freshly built tables (before bashlex patches its own copy); best effort."""
    data = {
        "productions": [[p.name, p.len, p.str, p.func] for p in parser.productions],
        "action": {str(state): acts for state, acts in parser.action.items()},
        "goto": {str(state): gotos for state, gotos in parser.goto.items()},
    }
    write_atomic(path, [json.dumps(data, separators=(",", ":"))], ".bashlex-")
