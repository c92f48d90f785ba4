"""Entry points of one group, read as ``importlib.metadata`` reads them, without importing it.

``importlib.metadata`` (with the email, csv and zipfile modules it pulls in) costs about 30 ms at
every start, a fifth of a ``replay``; the doctor needs one group of it. Distributions are found
on ``sys.path`` as its path finder finds them (``*.dist-info`` and ``*.egg-info`` folders, the
first of a normalized name winning) and their ``entry_points.txt`` read as its ``Sectioned``
parser reads it. Anything else on the path (a zip, an unreadable folder) and any other finder
of distributions hands the question to ``importlib.metadata`` itself.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from functools import reduce
from typing import Any

from netra_doctor.core.records import record

_PATTERN = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")
_STEM = re.compile(r"^([^-]+)(?:-.*)?\.(?:dist|egg)-info$")


@record(frozen=True)
class EntryPoint:
    name: str
    value: str
    group: str

    def load(self) -> Any:
        match = _PATTERN.match(self.value)
        if match is None:
            raise ValueError(f"not an entry point: {self.value!r}")
        module = importlib.import_module(match.group("module"))
        return reduce(getattr, filter(None, (match.group("attr") or "").split(".")), module)


def entry_points(group: str) -> list[Any]:
    """The group's entry points of every distribution on ``sys.path``, in ``importlib.metadata``'s order."""
    found = _scan(group)
    if found is None:
        from importlib.metadata import entry_points as slow

        return list(slow(group=group))
    return found


def _scan(group: str) -> list[EntryPoint] | None:
    if any(getattr(f, "__name__", type(f).__name__) != "PathFinder" and hasattr(f, "find_distributions")
           for f in sys.meta_path):
        return None  # a finder of distributions other than the path's: only importlib.metadata asks it
    seen: set[str] = set()
    out: list[EntryPoint] = []
    for entry in sys.path:
        folder = entry or "."
        if not os.path.isdir(folder):
            if os.path.exists(folder):
                return None  # a zip on the path: its distributions are importlib.metadata's to read
            continue
        try:
            names = os.listdir(folder)
        except OSError:
            return None
        for name in names:
            stem = _STEM.match(name)
            if stem is None:
                continue
            key = re.sub(r"[-_.]+", "_", stem.group(1)).lower()
            if key in seen:
                continue
            seen.add(key)
            try:
                with open(os.path.join(folder, name, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError):
                return None
            out += _group(text, group)
    return out


def _group(text: str, group: str) -> list[EntryPoint]:
    section = None
    out: list[EntryPoint] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == group and "=" in line:
            name, _, value = line.partition("=")
            out.append(EntryPoint(name.strip(), value.strip(), group))
    return out
